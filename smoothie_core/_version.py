"""Single source of the library version (read by the package metadata and by saved files)."""

__version__ = "0.1.0"
