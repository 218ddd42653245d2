"""tinynet's version, written in this one place: pyproject.toml reads it for the package
metadata ([tool.setuptools.dynamic]) and ``tinynet.__version__`` imports it."""

__version__ = "0.1.0"
