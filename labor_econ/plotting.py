"""Moved to :mod:`labor_econ.report.plotting` (reporting and plotting together); kept importable."""

from .report.plotting import calibration_plot, calibration_table

__all__ = ["calibration_plot", "calibration_table"]
