"""labor_econ: occupational-transition models for labor economists.

Causal-LM checkpoints (such as the LABOR-LLM models) become statsmodels-style likelihood
models over occupation codes, next to multinomial-logit and Markov baselines.
"""

from importlib.metadata import PackageNotFoundError, version

from . import datasets, taxonomies
from .diagnostics import ModelComparison, TestResult, clarke_test, compare, lr_test, vuong_test
from .lm import CandidateScorer, CausalLM, LMLoadError, load_lm, score_panel
from .lm.finetune import finetune
from .lm.formats import CheckpointMismatchWarning, FormatCheck, LowValidMassWarning, check_format
from .lm.ranking import rank_templates
from .models import (
    LLMTransitionModel,
    LLMTransitionResults,
    LogLinearPool,
    LogLinearPoolResults,
    MarginalModel,
    MarkovTransitionModel,
    TransitionEvaluation,
    TransitionMNLogit,
    TransitionResults,
)
from .panel import CareerPanel, PanelError
from .plotting import calibration_plot, calibration_table
from .stata import predictions_frame, to_stata
from .taxonomy import Taxonomy, TaxonomyError
from .templates import ParsedResume, ResumeTemplate, TemplateError, TemplateGuess

try:
    __version__ = version("labor-econ")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

__all__ = [
    "CandidateScorer",
    "CareerPanel",
    "CausalLM",
    "CheckpointMismatchWarning",
    "FormatCheck",
    "LLMTransitionModel",
    "LLMTransitionResults",
    "LMLoadError",
    "LogLinearPool",
    "LogLinearPoolResults",
    "LowValidMassWarning",
    "MarginalModel",
    "MarkovTransitionModel",
    "ModelComparison",
    "PanelError",
    "ParsedResume",
    "ResumeTemplate",
    "Taxonomy",
    "TaxonomyError",
    "TemplateError",
    "TemplateGuess",
    "TestResult",
    "TransitionEvaluation",
    "TransitionMNLogit",
    "TransitionResults",
    "__version__",
    "calibration_plot",
    "calibration_table",
    "check_format",
    "clarke_test",
    "compare",
    "datasets",
    "finetune",
    "load_lm",
    "lr_test",
    "predictions_frame",
    "rank_templates",
    "score_panel",
    "taxonomies",
    "to_stata",
    "vuong_test",
]
