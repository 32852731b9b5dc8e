"""Old import path of template inference; it lives in :mod:`labor_econ.templates.inference`."""

from .templates import TemplateGuess, infer_template

__all__ = ["TemplateGuess", "infer_template"]
