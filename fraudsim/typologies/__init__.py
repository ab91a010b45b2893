"""Typologies: one module per kind of fraud, laundering shape or legitimate look-alike.

Every module in this package (except `base` and `schedule`) registers its typologies with
`fraudsim.registry.register` and is imported by the registry on first use.
"""
