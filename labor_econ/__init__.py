"""labor_econ: occupational-transition models for labor economists.

Causal-LM checkpoints (such as the LABOR-LLM models) become statsmodels-style likelihood
models over occupation codes, next to multinomial-logit and Markov baselines.
"""

from . import datasets, taxonomies
from ._version import __version__
from .diagnostics import (
    ChangeEvaluation,
    ForecastEvaluation,
    Mobility,
    ModelComparison,
    TestResult,
    clarke_test,
    compare,
    evaluate_changes,
    evaluate_forecasts,
    lr_test,
    mobility,
    vuong_test,
)
from .errors import DefaultTemplateWarning, LaborEconError, LaborEconWarning
from .lm import CandidateScorer, CausalLM, LMLoadError, load_lm, score_panel
from .lm.finetune import finetune
from .lm.formats import CheckpointMismatchWarning, FormatCheck, LowValidMassWarning, check_format
from .lm.ranking import rank_templates
from .models import (
    Counterfactual,
    LLMModel,
    LLMResults,
    LogLinearPoolModel,
    LogLinearPoolResults,
    MarginalModel,
    MarginalResults,
    MarkovModel,
    MarkovResults,
    MNLogitModel,
    MNLogitResults,
    Simulation,
    TransitionEvaluation,
    TransitionResults,
    counterfactual,
)
from .models.renamed import RENAMED, renamed_getattr
from .models.simulate import simulate
from .panel import CareerPanel, PanelError
from .report import (
    calibration_plot,
    calibration_table,
    fan_chart,
    move_calibration_plot,
    subgroup_plot,
)
from .stata import StataError, predictions_frame, to_stata
from .taxonomy import Taxonomy, TaxonomyError
from .templates import ParsedResume, ResumeTemplate, TemplateError, TemplateGuess

__all__ = [
    "CandidateScorer",
    "CareerPanel",
    "CausalLM",
    "ChangeEvaluation",
    "CheckpointMismatchWarning",
    "Counterfactual",
    "DefaultTemplateWarning",
    "FormatCheck",
    "ForecastEvaluation",
    "LLMModel",
    "LLMResults",
    "LMLoadError",
    "LogLinearPoolModel",
    "LaborEconError",
    "LaborEconWarning",
    "LogLinearPoolResults",
    "LowValidMassWarning",
    "MNLogitModel",
    "MNLogitResults",
    "MarginalModel",
    "MarginalResults",
    "MarkovModel",
    "MarkovResults",
    "Mobility",
    "ModelComparison",
    "PanelError",
    "Simulation",
    "StataError",
    "ParsedResume",
    "ResumeTemplate",
    "Taxonomy",
    "TaxonomyError",
    "TemplateError",
    "TemplateGuess",
    "TestResult",
    "TransitionEvaluation",
    "TransitionResults",
    "__version__",
    "calibration_plot",
    "calibration_table",
    "check_format",
    "clarke_test",
    "compare",
    "counterfactual",
    "datasets",
    "evaluate_changes",
    "evaluate_forecasts",
    "fan_chart",
    "finetune",
    "load_lm",
    "lr_test",
    "mobility",
    "move_calibration_plot",
    "predictions_frame",
    "rank_templates",
    "score_panel",
    "simulate",
    "subgroup_plot",
    "taxonomies",
    "to_stata",
    "vuong_test",
]

#: Old class names, importable with a FutureWarning (labor_econ.models.renamed).
__getattr__ = renamed_getattr(__name__, tuple(RENAMED))
