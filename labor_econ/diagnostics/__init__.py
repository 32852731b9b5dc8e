"""Model comparison: fit tables and tests between fitted transition models."""

from .compare import ModelComparison, compare
from .hypotheses import TestResult, clarke_test, encompassing_test, lr_test, vuong_test

__all__ = [
    "ModelComparison",
    "TestResult",
    "clarke_test",
    "compare",
    "encompassing_test",
    "lr_test",
    "vuong_test",
]
