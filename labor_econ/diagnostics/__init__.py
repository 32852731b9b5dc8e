"""Model comparison: fit tables, tests between fitted transition models, and the evaluations
beside perplexity (occupation change, labor-force entry and exit, forecasts, mobility)."""

from .compare import ModelComparison, compare
from .evaluations import (
    ChangeEvaluation,
    ForecastEvaluation,
    evaluate_changes,
    evaluate_forecasts,
)
from .hypotheses import TestResult, clarke_test, encompassing_test, lr_test, vuong_test
from .mobility import Mobility, mobility

__all__ = [
    "ChangeEvaluation",
    "ForecastEvaluation",
    "ModelComparison",
    "Mobility",
    "TestResult",
    "clarke_test",
    "compare",
    "encompassing_test",
    "evaluate_changes",
    "evaluate_forecasts",
    "lr_test",
    "mobility",
    "vuong_test",
]
