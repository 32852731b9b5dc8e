"""labor_econ: occupational-transition models for labor economists.

Causal-LM checkpoints (such as the LABOR-LLM models) become statsmodels-style likelihood
models over occupation codes, next to multinomial-logit and Markov baselines.
"""

from importlib.metadata import PackageNotFoundError, version

from . import datasets, taxonomies
from .panel import CareerPanel, PanelError
from .taxonomy import Taxonomy, TaxonomyError
from .templates import ResumeTemplate, TemplateError

try:
    __version__ = version("labor-econ")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

__all__ = [
    "CareerPanel",
    "PanelError",
    "ResumeTemplate",
    "Taxonomy",
    "TaxonomyError",
    "TemplateError",
    "__version__",
    "datasets",
    "taxonomies",
]
