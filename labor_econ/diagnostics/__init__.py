"""Model comparison: fit tables and tests between fitted transition models."""

from .compare import ModelComparison, compare
from .tests import TestResult, clarke_test, lr_test, vuong_test

__all__ = ["ModelComparison", "TestResult", "clarke_test", "compare", "lr_test", "vuong_test"]
