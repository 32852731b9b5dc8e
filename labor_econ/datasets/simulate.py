"""Synthetic career panels from a documented data-generating process with known probabilities."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import log_softmax

from ..panel import CareerPanel
from ..taxonomy import Taxonomy, wage_panel_1970

__all__ = ["SimulatedProcess", "nlsy79_waves", "simulate_panel"]

SPECIAL_STATES = ("Unemployed", "Not in labor force", "In education")


def nlsy79_waves(last: int = 2022) -> list[int]:
    """The NLSY79 interview years: annual 1979-1994, biennial from 1996 (30 waves to 2022).

    Examples
    --------
    >>> from labor_econ.datasets import nlsy79_waves
    >>> waves = nlsy79_waves()
    >>> len(waves), waves[:3], waves[-3:]
    (30, [1979, 1980, 1981], [2018, 2020, 2022])
    """
    return list(range(1979, 1995)) + list(range(1996, last + 1, 2))


@dataclass(frozen=True)
class SimulatedProcess:
    """The data-generating process behind :func:`simulate_panel`, with its true parameters.

    For a transition of a person with standardized education ``e`` and age ``a`` from
    occupation ``j`` to ``k`` after a gap of ``g`` years, the log-odds of ``k`` are::

        alpha[k] + beta_educ * e * skill[k] - distance * |skill[j] - skill[k]|
            + 1[k == j] * (stay + stay_age * (a - 30) / 10) * decay ** (g - 1)
            + 1[k == in education] * school_age * max(22 - a, 0)

    so occupations are persistent (less so across longer gaps, more so with age), moves
    go to occupations of similar skill, and the educated sort into high-skill
    occupations. First waves draw from the same logits without the ``j`` terms.

    Examples
    --------
    >>> from labor_econ.datasets import simulate_panel
    >>> panel, process = simulate_panel(50, seed=0, return_process=True)
    >>> process.taxonomy.name, len(process.taxonomy)
    ('wage_panel_1970', 9)
    """

    taxonomy: Taxonomy
    alpha: np.ndarray
    skill: np.ndarray
    beta_educ: float
    distance: float
    stay: float
    stay_age: float
    decay: float
    school_age: float
    education_state: int | None
    educ_mean: float = 12.5
    educ_sd: float = 2.5

    def logits(
        self,
        prev: np.ndarray | None,
        educ: np.ndarray,
        age: np.ndarray,
        gap: np.ndarray | None = None,
    ) -> np.ndarray:
        """Unnormalized log-probabilities, shape (n, K); ``prev`` holds taxonomy positions."""
        e = (np.asarray(educ, dtype=float) - self.educ_mean) / self.educ_sd
        age = np.asarray(age, dtype=float)
        out = self.alpha[None, :] + self.beta_educ * e[:, None] * self.skill[None, :]
        if self.education_state is not None:
            out[:, self.education_state] += self.school_age * np.maximum(22 - age, 0)
        if prev is not None:
            out -= self.distance * np.abs(self.skill[prev][:, None] - self.skill[None, :])
            stay = (self.stay + self.stay_age * (age - 30) / 10) * self.decay ** (
                np.asarray(gap, dtype=float) - 1
            )
            out[np.arange(len(prev)), prev] += stay
        return out

    def log_probabilities(self, panel: CareerPanel, include_first: bool = False) -> pd.DataFrame:
        """True log-probabilities of every transition of a panel drawn from this process.

        Returns a DataFrame indexed like ``panel.transitions(include_first)`` with one column
        per taxonomy code.
        """
        missing = [
            what
            for what, ok in (
                ("birth year", panel.birth_year is not None),
                ("'educ' covariate", "educ" in panel.covariates),
            )
            if not ok
        ]
        if missing:
            raise ValueError(
                f"the panel has no {' and no '.join(missing)}: the process needs each person's "
                "age and years of schooling"
            )
        tr = panel.transitions(include_first=include_first)
        out = np.empty((len(tr), len(self.taxonomy)))
        age = tr.index.get_level_values(1).to_numpy() - tr[panel.birth_year].to_numpy()
        first = tr["prev_occupation"].isna().to_numpy()
        if (~first).any():
            rest = tr.loc[~first]
            out[~first] = log_softmax(
                self.logits(
                    self.taxonomy.positions(rest["prev_occupation"]),
                    rest["educ"].to_numpy(),
                    age[~first],
                    rest["gap"].to_numpy(dtype=float),
                ),
                axis=1,
            )
        if first.any():
            out[first] = log_softmax(
                self.logits(None, tr.loc[first, "educ"].to_numpy(), age[first]), axis=1
            )
        return pd.DataFrame(out, index=tr.index, columns=pd.Index(self.taxonomy.codes))

    def probabilities(self, panel: CareerPanel, include_first: bool = False) -> pd.DataFrame:
        """True transition probabilities (rows sum to one); see :meth:`log_probabilities`."""
        return np.exp(self.log_probabilities(panel, include_first))


def _with_special_states(taxonomy: Taxonomy) -> Taxonomy:
    """Add the special states to a taxonomy (reusing entries with the same title)."""
    codes, titles = list(taxonomy.codes), list(taxonomy.titles)
    special = list(taxonomy.special)
    next_code = max(c for c in codes if isinstance(c, int)) + 1 if codes else 1
    for title in SPECIAL_STATES:
        if title in titles:
            code = taxonomy.code(title)
        else:
            code, next_code = next_code, next_code + 1
            codes.append(code)
            titles.append(title)
        if code not in special:
            special.append(code)
    return Taxonomy(codes, titles, name=f"{taxonomy.name}+special", special=special)


def _sample(logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw per row from softmax(logits), by the Gumbel-max trick."""
    return np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)


def simulate_panel(
    n_persons: int,
    *,
    taxonomy: Taxonomy | None = None,
    years: Sequence[int] | None = None,
    seed: int = 0,
    special_states: bool = False,
    miss_rate: float = 0.1,
    stay: float | None = None,
    return_process: bool = False,
) -> CareerPanel | tuple[CareerPanel, SimulatedProcess]:
    """Simulate a career panel from a known process (see :class:`SimulatedProcess`).

    Every person is born in 1957-1964 (the NLSY79 cohorts), has a fixed education
    (years of schooling), race (``black``) and sex (``female``), and is interviewed at the
    scheduled ``years`` but misses each interview after the first with probability
    ``miss_rate``, so waves are irregular. The panel declares ``birth_year``, static
    ``educ``, ``black``, ``female``; the id column is ``pid``, time ``year``, occupation
    ``occ``.

    Parameters
    ----------
    n_persons : int
        Number of persons (NLSY79 has about 12,700).
    taxonomy : Taxonomy, optional
        Occupations; default :func:`~labor_econ.taxonomies.wage_panel_1970`.
    years : sequence of int, optional
        Interview years; default :func:`nlsy79_waves` (30 waves, biennial after 1994).
    seed : int
        Seed of every random draw: the process's parameters and the careers.
    special_states : bool
        Add "Unemployed", "Not in labor force" and "In education" states (entries with
        these titles are reused; others get new codes after the largest code).
    miss_rate : float
        Probability of missing each interview after the first.
    stay : float, optional
        Baseline log-odds bonus of staying in the same occupation; default
        ``0.5 + log(K)``, which keeps the stay rate of a 30-year-old near 60-70% for any K.
    return_process : bool
        Also return the :class:`SimulatedProcess`, whose ``probabilities(panel)`` gives
        the true transition probabilities.

    Returns
    -------
    CareerPanel or (CareerPanel, SimulatedProcess)

    Examples
    --------
    >>> from labor_econ.datasets import simulate_panel
    >>> simulate_panel(50, seed=0)
    <CareerPanel: 50 persons, 1349 waves, 1299 transitions, year 1979-2022,
    taxonomy 'wage_panel_1970' (9 codes)>
    """
    if n_persons < 1:
        raise ValueError(f"n_persons must be at least 1, got {n_persons}")
    if not 0 <= miss_rate < 1:
        raise ValueError(f"miss_rate must be in [0, 1), got {miss_rate}")
    taxonomy = taxonomy if taxonomy is not None else wage_panel_1970()
    if special_states:
        taxonomy = _with_special_states(taxonomy)
    years = np.asarray(nlsy79_waves() if years is None else sorted(years), dtype=np.int64)
    if len(years) < 2 or len(np.unique(years)) != len(years):
        raise ValueError("years must hold at least two distinct interview years")
    rng = np.random.default_rng(seed)
    k = len(taxonomy)
    positions = {c: i for i, c in enumerate(taxonomy.codes)}
    education_state = positions.get(
        taxonomy.code("In education") if "In education" in taxonomy.titles else None
    )
    process = SimulatedProcess(
        taxonomy=taxonomy,
        alpha=rng.normal(0.0, 0.7, size=k),
        skill=rng.normal(0.0, 1.0, size=k),
        beta_educ=0.8,
        distance=0.8,
        stay=0.5 + np.log(k) if stay is None else float(stay),
        stay_age=0.5,
        decay=0.8,
        school_age=0.6,
        education_state=education_state,
    )
    n = n_persons
    birth = rng.integers(1957, 1965, size=n)
    educ = np.clip(np.round(rng.normal(process.educ_mean, process.educ_sd, size=n)), 8, 20)
    observed = rng.random((n, len(years))) >= miss_rate
    observed[:, 0] = True
    occ = np.empty((n, len(years)), dtype=np.int64)
    occ[:, 0] = _sample(process.logits(None, educ, years[0] - birth), rng)
    last_year = np.full(n, years[0])
    current = occ[:, 0].copy()
    for t in range(1, len(years)):
        draw = _sample(process.logits(current, educ, years[t] - birth, years[t] - last_year), rng)
        seen = observed[:, t]
        current = np.where(seen, draw, current)
        last_year = np.where(seen, years[t], last_year)
        occ[:, t] = draw
    pid, wave = np.nonzero(observed)
    codes = np.asarray(taxonomy.codes, dtype=object)
    frame = pd.DataFrame(
        {
            "pid": pid + 1,
            "year": years[wave],
            "occ": pd.array(codes[occ[pid, wave]].tolist()),
            "birth_year": birth[pid],
            "educ": educ[pid].astype(np.int64),
            "black": (rng.random(n) < 0.25).astype(np.int64)[pid],
            "female": (rng.random(n) < 0.5).astype(np.int64)[pid],
        }
    )
    panel = CareerPanel(
        frame,
        id="pid",
        time="year",
        occupation="occ",
        taxonomy=taxonomy,
        birth_year="birth_year",
        static=("educ", "black", "female"),
    )
    return (panel, process) if return_process else panel
