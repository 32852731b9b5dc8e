"""Reporting: the summary header every results class uses, and calibration plots and tables.

The renderer itself (:class:`~labor_econ.models.render.Summary`, escaping, ``header``) sits
on the results floor in :mod:`labor_econ.models.render`, below the estimators; it is
re-exported here, its old home. ``labor_econ.plotting`` is :mod:`labor_econ.report.plotting`.
"""

from ..models.render import Summary, SummaryStr, header, info_summary, taxonomy_label
from .plotting import calibration_plot, calibration_table

__all__ = [
    "Summary",
    "SummaryStr",
    "calibration_plot",
    "calibration_table",
    "header",
    "info_summary",
    "taxonomy_label",
]
