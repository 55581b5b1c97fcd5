"""The library's version, importable by the top of the package and by its layers."""

__version__ = "0.1.0"
