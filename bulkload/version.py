"""The package's version: a leaf module, so that what reports it (the JSON, ``--version``)
need not import the package's root, which imports the library (an import cycle)."""

__version__ = "0.2.0"
