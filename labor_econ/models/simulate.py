"""Multi-step career simulation from any fitted transition model.

Every draw of every person continues the person's observed career wave by wave: the model's
distribution of the next occupation is computed from the career so far (observed waves, then
the simulated ones), one occupation is drawn from it, and the career features move on
(previous occupation, the one before, tenure, experience, year, gap). A results class takes
part through two small hooks:

``_simulation_keys``
    which parts of the simulated state its distribution depends on, among ``"person"``
    (anything person-specific: covariates, experience, the gap of the first step),
    ``"occupation"`` (the last occupation), ``"prev"`` (the one before), ``"tenure"`` and
    ``"path"`` (the whole simulated history, for a model reading the resume);
``_step_proba(states)``
    the ``(n, K)`` distributions of the next wave for the distinct states ``states``
    (a :class:`CareerStates`);
``_step_factors(persons)`` (optional)
    the same distributions as a product of small tables (a :class:`StepFactors`), or
    None. A model whose log-probabilities are additive in the person, the last occupation,
    the one before and tenure (the ridge MNLogit) gives the tables once per step, and each
    state's distribution is a product of four table rows: no design matrix, no ``exp``
    per state (at K = 389 the per-state ``exp`` and design rows dominated the time).

Rows (draw, person) with the same key share one evaluation of the model: careers are
sticky, so most draws of a person sit in a handful of states (:attr:`Simulation.scorings`
counts the evaluations per step). Memory is bounded by a block of draws at a time, the
per-draw share counts ``(n_draws, horizon, K)`` and the draws the caller keeps.

This module imports no model (the models implement the hooks and import only
:class:`StepFactors` from here), so there is no cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..panel import CareerPanel, PanelError

__all__ = [
    "CareerStates",
    "Counterfactual",
    "Simulation",
    "StepFactors",
    "counterfactual",
    "simulate",
]

#: Rows (draws x persons) simulated at once: bounds memory whatever n_draws is.
_BLOCK_ROWS = 200_000
#: Distinct states whose distributions are held at once (x K floats each).
_CHUNK_STATES = 8_192
#: States per product of factor tables: small enough for the (n, K) rows to stay near the
#: cores (2,048 x 389 doubles, 6 MB). Products of four gathered rows for 1.4 million states
#: on 2 cores: 1.8 s in chunks of 512, 2.3 s of 2,048, 3.7 s of 8,192; 2,048 keeps the
#: Python overhead per chunk small.
_CHUNK_FACTORED = 2_048
_KEYS = ("person", "occupation", "prev", "tenure", "path")


@dataclass
class CareerStates:
    """Distinct simulated career states at one step: what a model needs to predict the next
    wave (one row per state).

    Attributes
    ----------
    time : int
        The year of the wave to predict (the same for every row).
    person : ndarray of int
        Position of each row's person in ``ids`` / ``covariates``.
    occupation : ndarray of int
        Taxonomy position of the last wave's occupation.
    prev : ndarray of int
        Taxonomy position of the occupation at the wave before the last, -1 for none.
    tenure : ndarray of int
        Years in the last occupation (last wave's year minus the start of its spell).
    last_time, first_time : ndarray of int
        Year of the last wave and of the person's first wave.
    history : ndarray of int, (n, steps so far)
        Taxonomy positions of the simulated waves so far (the observed ones are in the panel).
    history_times : ndarray of int
        Their years.
    ids : pandas.Index
        Person ids (the panel's).
    covariates : pandas.DataFrame
        The declared covariates of each person at their last observed wave, after ``set``.
    taxonomy_codes : ndarray
        Taxonomy codes, by position.
    panel : CareerPanel
        The observed careers up to the start (for a model that reads the whole history).
    """

    time: int
    person: np.ndarray
    occupation: np.ndarray
    prev: np.ndarray
    tenure: np.ndarray
    last_time: np.ndarray
    first_time: np.ndarray
    history: np.ndarray
    history_times: np.ndarray
    ids: pd.Index
    covariates: pd.DataFrame
    taxonomy_codes: np.ndarray
    panel: CareerPanel
    overrides: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.person)

    def raw(self, sources: tuple[str, ...]) -> pd.DataFrame:
        """The raw career features named in ``sources``, as ``models.design`` computes them
        for an observed transition (``prev_occupation`` is the last wave's code, ``gap`` the
        years since it, covariates at the last observed wave)."""
        codes = self.taxonomy_codes
        out = pd.DataFrame(index=pd.RangeIndex(len(self)))
        for name in sources:
            if name == "prev_occupation":
                out[name] = codes[self.occupation]
            elif name == "prev2_occupation":
                prev2 = np.full(len(self), "none", dtype=object)
                has = self.prev >= 0
                prev2[has] = codes[self.prev[has]]
                out[name] = prev2
            elif name == "tenure":
                out[name] = self.tenure.astype(float)
            elif name == "experience":
                out[name] = (self.last_time - self.first_time).astype(float)
            elif name == "gap":
                out[name] = (self.time - self.last_time).astype(float)
            elif name == "year":
                out[name] = np.full(len(self), float(self.time))
            else:
                out[name] = self.covariates[name].to_numpy()[self.person]
        return out

    def careers(self) -> tuple[CareerPanel, pd.MultiIndex]:
        """Each state's whole career as one person of a panel, for a model that reads it.

        Person ``s`` of the returned panel (ids ``0 .. n - 1``) has the observed waves of
        state ``s``'s person up to the start, its simulated waves, and a wave at
        ``time`` (the one to predict: its occupation, a placeholder, is the outcome and
        is read by nothing that predicts it). Simulated waves copy the covariates of the last
        observed wave; ``overrides`` (``set``) apply to every wave.

        Returns
        -------
        (CareerPanel, pandas.MultiIndex)
            The panel and the (id, time) of the waves to predict.
        """
        panel = self.panel
        data = panel.data
        rows_of = data.groupby(panel.id, sort=False).indices
        steps = self.history.shape[1]
        pieces, ids, sim_rows = [], [], []
        for s in range(len(self)):
            rows = rows_of[self.ids[self.person[s]]]
            pieces.append(rows)
            pieces.append(np.full(steps + 1, rows[-1]))
            ids.append(np.full(len(rows) + steps + 1, s))
            sim_rows.append(np.r_[np.zeros(len(rows), bool), np.ones(steps + 1, bool)])
        frame = data.iloc[np.concatenate(pieces)].reset_index(drop=True)
        simulated = np.concatenate(sim_rows)
        times = np.r_[self.history_times, self.time]
        occupations = np.column_stack([self.history, self.occupation])
        frame.loc[simulated, panel.time] = np.tile(times, len(self))
        codes = self.taxonomy_codes[occupations.ravel()]
        dtype = data[panel.occupation].dtype
        frame.loc[simulated, panel.occupation] = pd.Series(codes, dtype=dtype).to_numpy()
        frame[panel.id] = np.concatenate(ids)
        for name, value in self.overrides.items():
            frame[name] = value
        index = pd.MultiIndex.from_arrays(
            [np.arange(len(self)), np.full(len(self), self.time)], names=[panel.id, panel.time]
        )
        return panel._derive(frame), index


@dataclass
class StepFactors:
    """A next-wave distribution given as a product of tables, for fast simulation.

    For a state of person ``p`` with last occupation ``o``, the one before ``b`` (-1: none)
    and tenure ``t``, the weight of code ``j`` is
    ``person[p, j] * occupation[o, j] * prev[b + 1, j] * tenure(t)[j]`` (missing tables are 1),
    and the distribution is ``(1 - floor) * w / w.sum() + floor / K``. Tables may be scaled
    by any positive factor per row: only ratios within a row matter (each is
    ``exp(part - max(part))``, so nothing overflows).

    Attributes
    ----------
    person : ndarray (n_persons, K) or None
        This step's person part (covariates, experience, gap, year, constant).
    occupation : ndarray (K, K) or None
    prev : ndarray (K + 1, K) or None
    tenure : callable or None
        Maps an array of tenures to their ``(len, K)`` rows.
    floor : float
    """

    person: np.ndarray | None
    occupation: np.ndarray | None
    prev: np.ndarray | None
    tenure: Any
    floor: float

    def cdf(
        self, person: np.ndarray, occupation: np.ndarray, prev: np.ndarray, tenure: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Cumulative sums of the states' weights, their totals and the floor's step.

        Returns ``(c, total, step)``: the floored cumulative distribution of state ``i`` up
        to code ``j`` is ``(c[i, j] + step[i] * (j + 1)) / (total[i] + step[i] * K)``, with
        ``total[i] = c[i, -1]`` the weights' sum before the floor (``step`` is the floor's
        mass ``floor / K`` in the scale of the weights; the inverse-CDF search adds it only
        where it looks, a pass over ``(n, K)`` fewer). Computed with torch (its gathers and
        in-place products use every core).
        """
        # the person and tenure rows once per (person, tenure) pair: the states of a chunk
        # come in key order, so a chunk holds few persons and tenures
        pair = person.astype(np.int64) * (int(tenure.max()) + 1) + tenure
        pairs, first, inverse = np.unique(pair, return_index=True, return_inverse=True)
        base = np.ones((len(pairs), self._k))
        if self.person is not None:
            base *= self.person[person[first]]
        if self.tenure is not None:
            base *= self.tenure(tenure[first])
        w = torch.from_numpy(base).index_select(0, torch.from_numpy(inverse.ravel()))
        if self.occupation is not None:
            w.mul_(torch.from_numpy(self.occupation).index_select(0, torch.from_numpy(occupation)))
        if self.prev is not None:
            w.mul_(torch.from_numpy(self.prev).index_select(0, torch.from_numpy(prev + 1)))
        c = w.cumsum_(dim=1).numpy()
        total = c[:, -1].copy()
        step = total * (self.floor / ((1.0 - self.floor) * self._k))
        return c, total, step

    @property
    def _k(self) -> int:
        for table in (self.person, self.occupation, self.prev):
            if table is not None:
                return table.shape[1]
        raise ValueError("StepFactors needs a person, occupation or prev table")

    def weight(
        self,
        person: np.ndarray,
        occupation: np.ndarray,
        prev: np.ndarray,
        tenure: np.ndarray,
        code: np.ndarray,
    ) -> np.ndarray:
        """Weight of ``code[i]`` for state ``i`` (the product :meth:`cdf` sums)."""
        w = np.ones(len(code))
        if self.person is not None:
            w *= self.person[person, code]
        if self.occupation is not None:
            w *= self.occupation[occupation, code]
        if self.prev is not None:
            w *= self.prev[prev + 1, code]
        if self.tenure is not None:
            values, inverse = np.unique(tenure, return_inverse=True)
            w *= self.tenure(values)[inverse.ravel(), code]
        return w


@dataclass
class Simulation:
    """Simulated careers of a panel's persons from one fitted model.

    Attributes
    ----------
    model : str
        The model's name.
    years : list of int
        The simulated years.
    ids : pandas.Index
        The persons simulated.
    n_draws : int
    counts : ndarray (n_draws, horizon, K)
        Persons in each occupation, per draw and simulated year.
    scorings : pandas.Series
        Distinct states the model was evaluated on, per simulated year (a model evaluated
        row by row would need ``n_draws * n_persons`` each).
    set : dict
        The covariates set for the counterfactual (empty for the factual simulation).
    lm_scorings : LMScorings or None
        For a model reading the resume (the LLM): of the prompts behind ``scorings``, how
        many the LM scored, how many were read from its score store and how many were
        identical to another one (``labor_econ.models.llm.LMScorings``); None otherwise.

    Examples
    --------
    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.models.markov import MarkovModel
    >>> sim = MarkovModel(wage_panel()).fit().simulate(horizon=2, n_draws=50, seed=0)
    >>> sim
    <Simulation 'Markov': 545 persons x 50 draws, years 1988-1989, 18 model evaluations>
    >>> sim.counts.shape  # (draws, years, occupations)
    (50, 2, 9)
    >>> sim.draws.head(3)
       draw  nr  year  occupation
    0     0  13  1988           3
    1     0  17  1988           5
    2     0  18  1988           1
    >>> sim.shares().loc[1988].round(3).head(3)
                share  lower  upper
    occupation
    1           0.120  0.099  0.146
    2           0.121  0.103  0.139
    3           0.062  0.046  0.081
    """

    model: str
    years: list[int]
    ids: pd.Index
    id_name: str
    time_name: str
    codes: pd.Index
    n_draws: int
    counts: np.ndarray
    scorings: pd.Series
    kept: np.ndarray  # (keep_draws, horizon, n_persons) taxonomy positions
    target_prob: np.ndarray | None = None  # (n_persons, horizon) sum over draws
    set: dict = field(default_factory=dict)
    lm_scorings: Any = None

    @property
    def n_persons(self) -> int:
        return len(self.ids)

    @property
    def draws(self) -> pd.DataFrame:
        """The kept draws, long: columns ``draw``, id, year, ``occupation`` (codes)."""
        keep, horizon, n = self.kept.shape
        draw = np.repeat(np.arange(keep), horizon * n)
        year = np.tile(np.repeat(np.asarray(self.years), n), keep)
        person = np.tile(np.arange(n), keep * horizon)
        return pd.DataFrame(
            {
                "draw": draw,
                self.id_name: self.ids.to_numpy()[person],
                self.time_name: year,
                "occupation": self.codes.to_numpy()[self.kept.ravel()],
            }
        )

    def share_draws(self) -> np.ndarray:
        """``(n_draws, horizon, K)`` occupational shares of each draw."""
        return self.counts / self.n_persons

    def shares(self, alpha: float = 0.05) -> pd.DataFrame:
        """Occupational shares by year: mean over draws and the ``alpha`` interval across
        draws (the simulation's spread, not parameter uncertainty).

        Returns
        -------
        pandas.DataFrame
            Index (year, occupation); columns ``share``, ``lower``, ``upper``.
        """
        return _share_table(self.share_draws(), self.years, self.codes, alpha, self.time_name)

    def difference(self, other: Simulation, alpha: float = 0.05) -> pd.DataFrame:
        """This simulation's shares minus ``other``'s (a counterfactual), by year.

        Both must have the same persons, years and draws; with the same seed they share
        their random numbers draw by draw, so the difference's interval across draws is
        narrow (common random numbers).

        Returns
        -------
        pandas.DataFrame
            Index (year, occupation); columns ``difference`` (the mean over draws),
            ``lower``, ``upper``.
        """
        if (
            self.n_draws != other.n_draws
            or self.years != other.years
            or not self.ids.equals(other.ids)
        ):
            raise ValueError(
                "the simulations differ in persons, years or draws: simulate both from the same "
                "panel with the same start, horizon, step and n_draws"
            )
        diff = self.share_draws() - other.share_draws()
        out = _share_table(diff, self.years, self.codes, alpha, self.time_name)
        return out.rename(columns={"share": "difference"})

    def __repr__(self) -> str:
        return (
            f"<Simulation {self.model!r}: {self.n_persons} persons x {self.n_draws} draws, "
            f"years {self.years[0]}-{self.years[-1]}, {int(self.scorings.sum())} model "
            "evaluations"
            + ("" if self.lm_scorings is None else f"; LM scored {self.lm_scorings.scored}")
            + ">"
        )


def _share_table(
    values: np.ndarray, years: list[int], codes: pd.Index, alpha: float, time_name: str
) -> pd.DataFrame:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")
    lower, upper = np.quantile(values, [alpha / 2, 1 - alpha / 2], axis=0)
    index = pd.MultiIndex.from_product([years, codes], names=[time_name, "occupation"])
    return pd.DataFrame(
        {
            "share": values.mean(axis=0).ravel(),
            "lower": lower.ravel(),
            "upper": upper.ravel(),
        },
        index=index,
    )


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _apply_set(panel: CareerPanel, values: Mapping[str, Any] | None) -> dict:
    """Validate ``set``: declared covariates only (the occupation and years are simulated)."""
    if not values:
        return {}
    if not isinstance(values, Mapping):
        raise TypeError(f"set must be a mapping of covariate to value, got {type(values).__name__}")
    unknown = [k for k in values if k not in panel.covariates]
    if unknown:
        raise ValueError(
            f"set names {unknown}, which the panel does not declare as covariates (its "
            f"covariates: {list(panel.covariates)}); only declared covariates can be set"
        )
    return dict(values)


def _observed_start(panel: CareerPanel, start: int) -> CareerPanel:
    """The panel's waves up to ``start``; every person must have one."""
    data = panel.data
    keep = data[panel.time] <= start
    absent = pd.Index(panel.persons).difference(pd.Index(data.loc[keep, panel.id].unique()))
    if len(absent):
        shown = ", ".join(map(str, absent[:5].tolist()))
        more = f" and {len(absent) - 5} more" if len(absent) > 5 else ""
        raise PanelError(
            f"person(s) {shown}{more} have no wave at or before the start {start}: there is "
            "no career to continue. Simulate panel.subset(...) of persons observed by then, or "
            "an earlier start"
        )
    return panel if keep.all() else panel._derive(data.loc[keep])


def _initial_states(observed: CareerPanel) -> dict[str, np.ndarray]:
    """Per person: last occupation, the one before (-1: none), spell start, first and
    last year, from the observed waves (the same definitions as ``models.design``)."""
    data = observed.data
    tax = observed.taxonomy
    ids = data[observed.id].to_numpy()
    t = data[observed.time].to_numpy().astype(np.int64)
    occ = tax.positions(data[observed.occupation])
    n = len(data)
    new_person = np.ones(n, dtype=bool)
    new_person[1:] = ids[1:] != ids[:-1]
    new_spell = new_person.copy()
    new_spell[1:] |= occ[1:] != occ[:-1]
    spell_start = t[np.maximum.accumulate(np.where(new_spell, np.arange(n), 0))]
    first = t[np.maximum.accumulate(np.where(new_person, np.arange(n), 0))]
    last = np.flatnonzero(np.r_[new_person[1:], True])
    prev = np.where(new_person[last], -1, occ[np.maximum(last - 1, 0)])
    return {
        "occupation": occ[last],
        "prev": prev,
        "spell_start": spell_start[last],
        "first_time": first[last],
        "last_time": t[last],
        "last_row": last,
    }


def _keys(names: tuple[str, ...], rows: dict[str, np.ndarray], k: int) -> np.ndarray:
    """One int64 key per row combining the named state fields."""
    unknown = [n for n in names if n not in _KEYS]
    if unknown:
        raise ValueError(f"unknown simulation key(s) {unknown}; choose among {_KEYS}")
    key = np.zeros(len(rows["person"]), dtype=np.int64)
    bounds = {
        "person": int(rows["person"].max()) + 1,
        "occupation": k,
        "prev": k + 1,
        "tenure": int(rows["tenure"].max()) + 1,
        "path": int(rows["path"].max()) + 1,
    }
    for name in names:
        value = rows[name] + (1 if name == "prev" else 0)
        key = key * bounds[name] + value
    return key


def _group(key: np.ndarray) -> tuple[int, np.ndarray]:
    """Number of distinct keys and each row's state number (0 .. n - 1, in key order).

    Keys from a small range are counted (linear time); others are sorted.
    """
    bound = int(key.max()) + 1 if len(key) else 0
    if bound <= 8 * len(key) + 1_000_000:
        present = np.zeros(bound, dtype=bool)
        present[key] = True
        number = np.cumsum(present) - 1
        return int(present.sum()), number[key]
    uniq, inverse = np.unique(key, return_inverse=True)
    return len(uniq), inverse.ravel().astype(np.int64)


def _chunks(inverse: np.ndarray, n_states: int, size: int) -> list:
    """``(rows, first state, end state)`` of consecutive blocks of ``size`` states."""
    if n_states <= size:
        return [(np.arange(len(inverse)), 0, n_states)]
    order = np.argsort(inverse, kind="stable")
    bounds = np.arange(0, n_states + size, size).clip(max=n_states)
    edges = np.searchsorted(inverse[order], bounds)
    return [
        (order[lo:hi], s0, s1)
        for lo, hi, s0, s1 in zip(edges[:-1], edges[1:], bounds[:-1], bounds[1:], strict=True)
        if hi > lo
    ]


def _search(
    cdf: np.ndarray, local: np.ndarray, u: np.ndarray, step: np.ndarray | None = None
) -> np.ndarray:
    """Row ``i``'s draw from the (unnormalized) cumulative distribution ``cdf[local[i]]``.

    A binary search vectorized across rows (``log2 K`` gathers), without an ``(n, K)``
    array: each row's result is ``np.searchsorted(c, u[i] * c[-1], side="right")`` with ``c``
    its state's cumulative sums (the uniform scaled to their total rather than the sums
    normalized: one pass over the probabilities fewer), so a draw can be reproduced row by
    row. ``step`` (per state) adds a floor: ``c[j] + step * (j + 1)`` (see
    :meth:`StepFactors.cdf`), computed only at the positions the search reads.
    """
    k = cdf.shape[1]
    flat = cdf.ravel()
    base = local * k
    floor = None if step is None else step[local]
    total = cdf[local, -1] if floor is None else cdf[local, -1] + floor * k
    target = u * total
    lo = np.zeros(len(local), dtype=np.int64)
    hi = np.full(len(local), k, dtype=np.int64)
    for _ in range(int(np.ceil(np.log2(k + 1)))):
        mid = (lo + hi) // 2
        active = lo < hi
        at = np.minimum(mid, k - 1)
        value = flat[base + at] if floor is None else flat[base + at] + floor * (at + 1)
        right = value <= target
        lo = np.where(active & right, mid + 1, lo)
        hi = np.where(active & ~right, mid, hi)
    return np.minimum(lo, k - 1)


def draw_uniforms(seed: int, draws: np.ndarray, horizon: int, n_persons: int) -> np.ndarray:
    """``(len(draws), horizon, n_persons)`` uniforms; draw ``d``'s depend only on
    ``(seed, d)``, so any block size, and a counterfactual with the same seed, uses the
    same random numbers for the same draw (common random numbers)."""
    out = np.empty((len(draws), horizon, n_persons))
    for i, d in enumerate(draws):
        out[i] = np.random.default_rng([int(seed), int(d)]).random((horizon, n_persons))
    return out


def simulate(
    results: Any,
    panel: CareerPanel | None = None,
    *,
    start: int | None = None,
    horizon: int = 10,
    n_draws: int = 1000,
    seed: int = 0,
    set: Mapping[str, Any] | None = None,
    step: int = 1,
    keep_draws: int = 100,
    targets: np.ndarray | None = None,
    progress: bool = False,
) -> Simulation:
    """Simulate ``n_draws`` careers of every person of ``panel`` ``horizon`` waves ahead.

    See :meth:`labor_econ.models.base.TransitionResults.simulate` for the parameters.
    ``targets`` (``(n_persons, horizon)`` taxonomy positions, -1 where unobserved) makes
    the simulation accumulate, per person and year, the sum over draws of the probability
    the model gives the target at that step (the forecast evaluation's numerator).

    Examples
    --------
    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.models.markov import MarkovModel
    >>> sim = simulate(MarkovModel(wage_panel()).fit(), horizon=2, n_draws=50, seed=0)
    >>> sim.years, sim.counts.shape
    ([1988, 1989], (50, 2, 9))
    >>> sim.scorings.tolist()  # one evaluation per occupation and year
    [9, 9]
    """
    panel = results.panel if panel is None else panel
    if not isinstance(panel, CareerPanel):
        raise TypeError(f"panel must be a CareerPanel, got {type(panel).__name__}")
    if panel.taxonomy != results.taxonomy:
        raise PanelError(
            f"the panel is coded in taxonomy {panel.taxonomy.name!r} but model "
            f"{results.name!r} was estimated on {results.taxonomy.name!r}"
        )
    keys = getattr(results, "_simulation_keys", None)
    if keys is None:
        raise NotImplementedError(f"{type(results).__name__} cannot simulate careers")
    horizon = _check_int(horizon, "horizon", 1)
    n_draws = _check_int(n_draws, "n_draws", 1)
    step = _check_int(step, "step", 1)
    keep_draws = min(_check_int(keep_draws, "keep_draws", 0), n_draws)
    seed = _check_int(seed, "seed", 0)
    start = int(panel.times.max()) if start is None else _check_int(start, "start", 0)
    values = _apply_set(panel, set)

    observed = _observed_start(panel, start)
    init = _initial_states(observed)
    ids = pd.Index(observed.persons, name=panel.id)
    n_persons = len(ids)
    covariates = observed.data.iloc[init["last_row"]][list(panel.covariates)].reset_index(drop=True)
    for name, value in values.items():
        covariates[name] = value
    tax = panel.taxonomy
    k = len(tax)
    codes = np.asarray(tax.codes, dtype=object)
    years = [start + step * (h + 1) for h in range(horizon)]
    if targets is not None and targets.shape != (n_persons, horizon):
        raise ValueError(f"targets must have shape {(n_persons, horizon)}, got {targets.shape}")

    counts = np.zeros((n_draws, horizon, k), dtype=np.int32)
    kept = np.empty((keep_draws, horizon, n_persons), dtype=np.int32)
    target_prob = None if targets is None else np.zeros((n_persons, horizon))
    scorings = np.zeros(horizon, dtype=np.int64)
    block = max(1, _BLOCK_ROWS // n_persons)
    blocks = [np.arange(a, min(a + block, n_draws)) for a in range(0, n_draws, block)]
    bar = _progress(progress, len(blocks) * horizon, results.name)
    # a model reading resumes counts its LM scorings (models.llm.LMScorings): this run's share
    counter = getattr(getattr(results, "model", None), "lm_scorings", None)
    before = None if counter is None else counter.copy()
    factor_hook = getattr(results, "_step_factors", None)
    for draws in blocks:
        b = len(draws)
        u = draw_uniforms(seed, draws, horizon, n_persons)
        person = np.tile(np.arange(n_persons), b)
        occ = np.tile(init["occupation"], b)
        prev = np.tile(init["prev"], b)
        spell = np.tile(init["spell_start"], b)
        last_time = np.tile(init["last_time"], b)
        first_time = np.tile(init["first_time"], b)
        path = np.zeros(len(person), dtype=np.int64)
        history = np.empty((len(person), horizon), dtype=np.int32)
        for h, year in enumerate(years):
            rows = {
                "person": person,
                "occupation": occ,
                "prev": prev,
                "tenure": last_time - spell,
                "path": path,
            }
            n_states, inverse = _group(_keys(keys, rows, k))
            scorings[h] += n_states
            # any row of a state represents it: they agree on everything the model reads
            representative = np.empty(n_states, dtype=np.int64)
            representative[inverse] = np.arange(len(inverse))
            tenure = last_time - spell

            arrays = {
                "person": person,
                "occupation": occ,
                "prev": prev,
                "tenure": tenure,
                "last_time": last_time,
                "first_time": first_time,
            }
            done = history[:, :h]  # the simulated waves so far

            def states_of(rep: np.ndarray, year=year, arrays=arrays, done=done) -> CareerStates:
                return CareerStates(
                    time=year,
                    **{name: value[rep] for name, value in arrays.items()},
                    history=done[rep],
                    history_times=np.asarray(years[: done.shape[1]], dtype=np.int64),
                    ids=ids,
                    covariates=covariates,
                    taxonomy_codes=codes,
                    panel=observed,
                    overrides=values,
                )

            # the first n_persons rows of a block are draw one's persons, in order: the person
            # part of a step is the same for every draw (same years, covariates, spells' ends)
            factors = factor_hook(states_of(np.arange(n_persons))) if factor_hook else None
            size = _CHUNK_STATES if factors is None else _CHUNK_FACTORED
            new = np.empty_like(occ)
            uu = u[:, h, :].ravel()
            for rows_c, s0, s1 in _chunks(inverse, n_states, size):
                rep = representative[s0:s1]
                local = inverse[rows_c] - s0
                cdf = probs = step = None
                if factors is not None:
                    parts = (person[rep], occ[rep], prev[rep], tenure[rep])
                    cdf, total, step = factors.cdf(*parts)
                    if not np.all(np.isfinite(total) & (total > 0)):
                        # a state's every weight underflowed: the model's own probabilities
                        cdf = step = None
                if cdf is None:
                    probs = np.asarray(results._step_proba(states_of(rep)), dtype=float)
                    if probs.shape != (s1 - s0, k):
                        raise ValueError(
                            f"{type(results).__name__}._step_proba returned shape "
                            f"{probs.shape}, expected {(s1 - s0, k)}"
                        )
                    cdf = np.cumsum(probs, axis=1)
                if target_prob is not None:
                    tgt = targets[person[rows_c], h]
                    hit = tgt >= 0
                    at, code = local[hit], tgt[hit]
                    if probs is None:  # the factored weights at the targets, floored
                        weight = factors.weight(*(part[at] for part in parts), code)
                        floor = factors.floor
                        p_target = (1.0 - floor) * weight / total[at] + floor / k
                    else:
                        p_target = probs[at, code]
                    np.add.at(target_prob[:, h], person[rows_c][hit], p_target)
                new[rows_c] = _search(cdf, local, uu[rows_c], step)
            # move the careers on by one simulated wave
            moved = new != occ
            spell = np.where(moved, year, spell)
            prev = occ
            occ = new
            last_time = np.full_like(last_time, year)
            history[:, h] = occ
            if "path" in keys:
                path = _group(path * k + occ)[1]
            draw_local = np.repeat(np.arange(b), n_persons)
            counts[draws, h] = np.bincount(draw_local * k + occ, minlength=b * k).reshape(b, k)
            if bar is not None:
                bar.update(1)
        keep_here = draws < keep_draws
        if keep_here.any():
            hist = history.reshape(b, n_persons, horizon)[keep_here]
            kept[draws[keep_here]] = hist.transpose(0, 2, 1)
    if bar is not None:
        bar.close()
    return Simulation(
        model=results.name,
        years=years,
        ids=ids,
        id_name=panel.id,
        time_name=panel.time,
        codes=pd.Index(tax.codes, name="occupation"),
        n_draws=n_draws,
        counts=counts,
        scorings=pd.Series(scorings, index=pd.Index(years, name=panel.time), name="scorings"),
        kept=kept,
        target_prob=target_prob,
        set=values,
        lm_scorings=None if before is None else results.model.lm_scorings - before,
    )


@dataclass
class Counterfactual:
    """A factual and a counterfactual simulation with the same random numbers.

    Attributes
    ----------
    factual, counterfactual : Simulation

    Examples
    --------
    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.models.mnlogit import MNLogitModel
    >>> mnl = MNLogitModel(wage_panel(), features=["prev_occupation", "black"]).fit_regularized(
    ...     alpha=1.0
    ... )
    >>> cf = counterfactual(mnl, set={"black": 0}, horizon=2, n_draws=20, seed=0)
    >>> cf
    <Counterfactual 'MNLogit': set {'black': 0}, 545 persons x 20 draws>
    >>> cf.factual.set, cf.counterfactual.set
    ({}, {'black': 0})
    """

    factual: Simulation
    counterfactual: Simulation

    def difference(self, alpha: float = 0.05) -> pd.DataFrame:
        """Factual minus counterfactual shares by year and occupation, with the ``alpha``
        interval across draws (see :meth:`Simulation.difference`)."""
        return self.factual.difference(self.counterfactual, alpha)

    def __repr__(self) -> str:
        return (
            f"<Counterfactual {self.factual.model!r}: set {self.counterfactual.set or '-'}, "
            f"{self.factual.n_persons} persons x {self.factual.n_draws} draws>"
        )


def counterfactual(
    results: Any,
    panel: CareerPanel | None = None,
    *,
    set: Mapping[str, Any] | None = None,
    modified: CareerPanel | None = None,
    **kwargs: Any,
) -> Counterfactual:
    """Simulate ``panel`` as it is and with covariates set (or as ``modified``).

    Parameters
    ----------
    results : fitted results
    panel : CareerPanel, optional
        Default the estimation sample.
    set : dict, optional
        Covariates set for every person in the counterfactual, e.g. ``{"female": 0}``.
    modified : CareerPanel, optional
        A counterfactual panel instead (same persons: e.g. another birth year or
        covariates written into it).
    **kwargs
        ``start``, ``horizon``, ``n_draws``, ``seed``, ``step``, ``keep_draws``: as for
        :meth:`~labor_econ.models.base.TransitionResults.simulate`, the same for both runs
        (the same seed gives both the same random numbers draw by draw).

    Returns
    -------
    Counterfactual
        ``.difference()``: factual minus counterfactual shares with intervals.

    Examples
    --------
    Black workers' simulated occupations with the coefficients of non-Black workers applied
    (the MNLogit's ``black`` terms switched off), two years ahead:

    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.models.mnlogit import MNLogitModel
    >>> panel = wage_panel()
    >>> mnl = MNLogitModel(panel, features=["prev_occupation", "black"]).fit_regularized(
    ...     alpha=1.0
    ... )
    >>> black = panel.subset(panel.data.loc[panel.data["black"] == 1, "nr"].unique())
    >>> cf = counterfactual(mnl, black, set={"black": 0}, horizon=2, n_draws=50, seed=0)
    >>> cf.difference().loc[1989].round(3).head(3)  # factual minus counterfactual
                difference  lower  upper
    occupation
    1               -0.034 -0.092  0.000
    2               -0.023 -0.095  0.044
    3               -0.026 -0.095  0.056
    """
    if (set is None) == (modified is None):
        raise ValueError("give exactly one of set= (covariate values) or modified= (a panel)")
    panel = results.panel if panel is None else panel
    factual = simulate(results, panel, **kwargs)
    if modified is not None:
        if not pd.Index(modified.persons).equals(pd.Index(panel.persons)):
            raise PanelError(
                "the modified panel must hold the same persons as the factual one (it rewrites "
                "their covariates or histories, it does not add or drop persons)"
            )
        other = simulate(results, modified, **kwargs)
    else:
        other = simulate(results, panel, set=set, **kwargs)
    return Counterfactual(factual, other)


def _progress(enabled: bool, total: int, name: str):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"simulating {name}", unit="step")
