"""The package version, readable by every layer (recorded in profiles and manifests)."""

__version__ = "0.1.0"
