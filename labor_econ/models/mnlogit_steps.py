"""The MNLogit's next-wave distributions for simulated careers, from precomputed tables.

The linear predictor is additive in the design's column groups, so for a simulated state it
is a sum of table rows: one per previous occupation, one per occupation before it (or
none), the tenure slope times the standardized tenure, and a person part (constant,
experience, gap, year, covariates) computed once per person and step. This skips building
a design matrix row by row, which at K = 389 dominates a simulation's time. It applies to
ridge fits (``penalty > 0``); maximum-likelihood fits exclude empty cells row by row and use
the design (see ``MNLogitResults._step_proba``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from .design import _design_matrix
from .simulate import StepFactors

__all__ = ["StepTables"]

_OWN = ("prev_occupation", "prev2_occupation", "tenure")


@dataclass
class StepTables:
    """Coefficients of a fitted MNLogit laid out by the simulated state they multiply.

    Attributes
    ----------
    occupation : ndarray (K, K)
        Contribution of each previous occupation (rows and outcome columns in taxonomy
        order; the reference row and the base outcome's column are 0).
    before : ndarray (K + 1, K)
        Contribution of the occupation before it, row 0 for none.
    tenure : tuple or None
        ``(center, scale, coefficients)`` of the standardized tenure.
    person_columns : list
        The other design columns (constant, experience, gap, year, covariates).
    person_coef : ndarray (len(person_columns), K)
    absent : ndarray (K,)
        0 for outcomes of the estimation sample, -inf for codes it never had.
    """

    occupation: np.ndarray
    before: np.ndarray
    tenure: Any
    person_columns: list
    person_coef: np.ndarray
    sources: tuple
    absent: np.ndarray

    @classmethod
    def from_results(cls, results: Any) -> StepTables:
        model = results.model
        tax = model.taxonomy
        k = len(tax)
        # coefficients in taxonomy columns: the base outcome 0, codes never observed in the
        # estimation sample -inf (the floor gives them their probability afterwards)
        coef = np.zeros((results._coef.shape[0], k))
        coef[:, model._observed[1:]] = results._coef
        absent = np.full(k, -np.inf)
        absent[model._observed] = 0.0
        occupation, before = np.zeros((k, k)), np.zeros((k + 1, k))
        tenure, person = None, []
        for j, col in enumerate(model._design.columns):
            if col.source == "prev_occupation":
                occupation[tax.index(col.level)] += coef[j]
            elif col.source == "prev2_occupation":
                before[0 if col.level == "none" else tax.index(col.level) + 1] += coef[j]
            elif col.source == "tenure":
                tenure = (col.center, col.scale, coef[j])
            else:
                person.append(j)
        columns = [model._design.columns[j] for j in person]
        sources = tuple(dict.fromkeys(c.source for c in columns if c.source is not None))
        return cls(occupation, before, tenure, columns, coef[person], sources, absent)

    def person_eta(self, states: Any) -> np.ndarray:
        """``(n, K)`` person part of the linear predictors of ``states`` (-inf: never
        observed): the design's columns other than the two occupations and tenure."""
        x = _design_matrix(states.raw(self.sources), self.person_columns)
        return x.dot(self.person_coef) + self.absent

    def factors(self, persons: Any, floor: float) -> StepFactors:
        """The next wave's distributions as a product of tables (see
        :class:`~labor_econ.models.simulate.StepFactors`): ``exp`` of each additive part,
        shifted by its row maximum. ``persons`` holds one state per person; only its
        person part is read."""
        if "_static" not in self.__dict__:  # the occupation tables do not change by step
            self._static = (_exp_rows(self.occupation), _exp_rows(self.before))
        occupation, before = self._static
        tenure_rows = None
        if self.tenure is not None:
            center, scale, b = self.tenure

            def tenure_rows(values: np.ndarray) -> np.ndarray:
                return _exp_rows(((values - center) / scale)[:, None] * b[None, :])

        return StepFactors(
            person=_exp_rows(self.person_eta(persons)),
            occupation=occupation,
            prev=before,
            tenure=tenure_rows,
            floor=float(floor),
        )

    def eta(self, states: Any) -> np.ndarray:
        """``(n, K)`` linear predictors of every code for ``states`` (-inf: never observed)."""
        persons, first, inverse = np.unique(states.person, return_index=True, return_inverse=True)
        one_each = replace(
            states,
            person=persons,
            occupation=states.occupation[first],
            prev=states.prev[first],
            tenure=states.tenure[first],
            last_time=states.last_time[first],
            first_time=states.first_time[first],
            history=states.history[first],
        )
        eta = self.person_eta(one_each)[inverse.ravel()]
        eta += self.occupation[states.occupation]
        eta += self.before[states.prev + 1]
        if self.tenure is not None:
            center, scale, b = self.tenure
            eta += ((states.tenure - center) / scale)[:, None] * b[None, :]
        return eta


def step_proba(results: Any, tables: StepTables, states: Any) -> np.ndarray:
    """``(n, K)`` floored probabilities of the next wave, as ``predict`` computes them."""
    k = len(results.model.taxonomy)
    probs = torch.softmax(torch.from_numpy(tables.eta(states)), dim=1)
    return probs.mul_(1.0 - results.floor).add_(results.floor / k).numpy()


def _exp_rows(parts: np.ndarray) -> np.ndarray:
    """``exp(parts - row max)``: positive weights with the ratios of ``exp(parts)`` (a row of
    -inf, an outcome never observed, stays 0)."""
    top = parts.max(axis=1, keepdims=True)
    return np.exp(parts - np.where(np.isfinite(top), top, 0.0))
