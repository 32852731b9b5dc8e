"""Moved to ``labor_econ.testing.rejections``; kept so that old imports keep working."""

from .testing.rejections import CASES, CommandLineError, RejectionCase, rejection_table

__all__ = ["CASES", "CommandLineError", "RejectionCase", "rejection_table"]
