"""The installed version of labor_econ, importable from every layer without the package root."""

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__ = version("labor-econ")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"
