"""The error raised by resume templates (here so that inference needs no template class).

The class itself lives with every other error of the package in :mod:`labor_econ.errors`.
"""

from ..errors import TemplateError

__all__ = ["TemplateError"]
