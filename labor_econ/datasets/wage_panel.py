"""The NLSY wage panel of Vella and Verbeek (1998), shipped with the package."""

from __future__ import annotations

from importlib import resources

import pandas as pd

from ..panel import CareerPanel
from ..taxonomy import wage_panel_1970

__all__ = ["wage_panel"]


def wage_panel() -> CareerPanel:
    """Load the NLSY panel of young men of Vella and Verbeek (1998).

    545 men observed every year 1980-1987 (4,360 person-years, 3,815 transitions), with
    occupations coded in the nine 1970 Census major groups
    (:func:`labor_econ.taxonomies.wage_panel_1970`). The same data is distributed as
    ``wagepan`` (Wooldridge) and ``Males`` (R plm/Ecdat).

    Columns: ``nr`` (person id), ``year``, ``occupation``; static covariates ``black``,
    ``hisp``, ``educ`` (years of schooling); time-varying ``exper``, ``expersq``,
    ``hours``, ``married``, ``union``, ``lwage``. There is no birth year.

    Returns
    -------
    CareerPanel

    References
    ----------
    Vella, F. and Verbeek, M. (1998). "Whose Wages Do Unions Raise? A Dynamic Model of
    Unionism and Wage Rate Determination for Young Men." Journal of Applied Econometrics
    13, 163-183.

    Examples
    --------
    >>> from labor_econ.datasets import wage_panel
    >>> wage_panel()
    <CareerPanel: 545 persons, 4360 waves, 3815 transitions, year 1980-1987,
    taxonomy 'wage_panel_1970' (9 codes)>
    """
    path = resources.files("labor_econ.datasets") / "data" / "wage_panel.csv"
    with resources.as_file(path) as csv:
        frame = pd.read_csv(csv)
    return CareerPanel(
        frame,
        id="nr",
        time="year",
        occupation="occupation",
        taxonomy=wage_panel_1970(),
        static=("black", "hisp", "educ"),
        varying=("exper", "expersq", "hours", "married", "union", "lwage"),
    )
