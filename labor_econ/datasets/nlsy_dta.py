"""An NLSY79-like Stata file: simulated careers in OCC1990 codes, as a survey file has them."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..taxonomy import STATA_MAX_LONG, Taxonomy, occ1990
from .simulate import simulate_panel

__all__ = ["write_nlsy79_dta"]

#: How Stata stores ``.`` and ``.a`` ("refused") in a ``long`` variable.
_DOT, _DOT_A = STATA_MAX_LONG + 1, STATA_MAX_LONG + 2


def write_nlsy79_dta(
    path: str | os.PathLike[str],
    n_persons: int = 2000,
    *,
    seed: int = 0,
    skip_rate: float = 0.1,
    missing_rate: float = 0.03,
    refused_rate: float = 0.01,
    taxonomy: Taxonomy | None = None,
    years: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Write an NLSY79-like ``.dta`` file of simulated careers and return its data.

    The careers come from :func:`~labor_econ.datasets.simulate_panel` with the OCC1990
    taxonomy (389 codes) and the NLSY79 interview years. The file looks like a survey
    extract: variables ``caseid``, ``year``, ``occ1990`` (a ``long`` with the OCC1990
    value labels), ``birth_year``, ``educ``, ``black``, ``female``; skipped waves are
    absent rows (``skip_rate``), and among the interviews held some occupations are
    missing (``.``, share ``missing_rate``) or refused (``.a`` labelled "Refused", share
    ``refused_rate``). Missing values are never codes: read it with
    ``CareerPanel.from_stata(path, id="caseid", time="year", occupation="occ1990",
    missing="drop")``.

    Parameters
    ----------
    path : path-like
        The ``.dta`` file to write.
    n_persons : int
        Number of persons.
    seed : int
        Seed of the careers and of the missing values.
    skip_rate, missing_rate, refused_rate : float
        Shares of skipped waves, of missing and of refused occupations.
    taxonomy : Taxonomy, optional
        Integer-coded occupations; default :func:`~labor_econ.taxonomy.occ1990`. A small
        one (e.g. :func:`~labor_econ.taxonomy.wage_panel_1970`) makes quick test files.
    years : sequence of int, optional
        Interview years; default the NLSY79's (:func:`~labor_econ.datasets.nlsy79_waves`).

    Returns
    -------
    pandas.DataFrame
        The data written, missing occupations as Stata's raw ``long`` codes.

    Examples
    --------
    >>> import os, tempfile, warnings
    >>> from labor_econ import CareerPanel
    >>> from labor_econ.datasets import write_nlsy79_dta
    >>> path = os.path.join(tempfile.mkdtemp(), "nlsy79.dta")
    >>> data = write_nlsy79_dta(path, n_persons=50, seed=0)
    >>> data.columns.tolist()
    ['caseid', 'year', 'occ1990', 'birth_year', 'educ', 'black', 'female']
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")  # the dropped missing occupations are counted
    ...     panel = CareerPanel.from_stata(path, id="caseid", time="year",
    ...                                    occupation="occ1990", missing="drop")
    >>> panel.n_persons, panel.taxonomy.name
    (50, 'occ1990')
    """
    tax = taxonomy if taxonomy is not None else occ1990()
    panel = simulate_panel(n_persons, taxonomy=tax, years=years, seed=seed, miss_rate=skip_rate)
    data = panel.data.rename(columns={"pid": "caseid", "occ": "occ1990"})
    rng = np.random.default_rng([seed, 1979])
    draw = rng.random(len(data))
    occ = data["occ1990"].to_numpy(dtype=np.int64)
    occ = np.where(draw < missing_rate, _DOT, occ)
    occ = np.where((draw >= missing_rate) & (draw < missing_rate + refused_rate), _DOT_A, occ)
    data = data.assign(occ1990=occ.astype(np.int32))
    data = data.astype({c: np.int32 for c in ("caseid", "year", "birth_year")})
    data = data.astype({c: np.int8 for c in ("educ", "black", "female")})
    labels = {int(c): t for c, t in zip(tax.codes, tax.titles, strict=True)}
    labels[_DOT_A] = "Refused"
    data.to_stata(
        Path(path),
        write_index=False,
        value_labels={"occ1990": labels},
        variable_labels={
            "caseid": "Person id",
            "year": "Interview year",
            "occ1990": f"Occupation ({tax.name})"[:80],
            "birth_year": "Year of birth",
            "educ": "Years of schooling",
            "black": "Black",
            "female": "Female",
        },
        data_label="Simulated NLSY79-like careers (labor_econ)",
    )
    return data
