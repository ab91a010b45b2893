"""Typologies: one module per kind of fraud, laundering shape or legitimate look-alike.

Every module in this package (except `base` and `registry`) registers its typologies with
`fraudsim.typologies.registry.register` and is imported by the registry on first use.
"""
