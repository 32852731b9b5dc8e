"""Reporting: the summary header every results class uses, calibration plots and tables, and
the plots of simulated careers and change evaluations
(``labor_econ.diagnostics.forecast_plots``).

The renderer itself (:class:`~labor_econ.models.render.Summary`, escaping, ``header``) sits
on the results floor in :mod:`labor_econ.models.render`, below the estimators; it is
re-exported here, its old home. ``labor_econ.plotting`` is :mod:`labor_econ.report.plotting`.
"""

from ..diagnostics.forecast_plots import fan_chart, move_calibration_plot, subgroup_plot
from ..models.render import Summary, SummaryStr, header, info_summary, taxonomy_label
from .plotting import calibration_plot, calibration_table

__all__ = [
    "Summary",
    "SummaryStr",
    "calibration_plot",
    "calibration_table",
    "fan_chart",
    "header",
    "info_summary",
    "move_calibration_plot",
    "subgroup_plot",
    "taxonomy_label",
]
