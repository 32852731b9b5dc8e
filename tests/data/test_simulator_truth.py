"""The career simulator against its documented data-generating process.

`SimulatedProcess.probabilities` is the truth that the LLM-model, pool and Monte Carlo tests
are checked against, so it is checked here twice: against the docstring's equation evaluated by
hand for single transitions, and against the simulated careers themselves by a goodness-of-fit
test per (previous, next) cell, split by the gap between observed waves.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import log_softmax

from labor_econ import CareerPanel, Taxonomy
from labor_econ.datasets import simulate_panel

#: Gaps of 5 years and more share a cell (few transitions have them).
MAX_GAP = 5


def docstring_logits(process, prev, educ, age, gap):
    """The log-odds of SimulatedProcess's docstring, one scalar at a time (prev None: first)."""
    e = (educ - process.educ_mean) / process.educ_sd
    out = []
    for k in range(len(process.taxonomy)):
        v = process.alpha[k] + process.beta_educ * e * process.skill[k]
        if prev is not None:
            v -= process.distance * abs(process.skill[prev] - process.skill[k])
            if k == prev:
                v += (process.stay + process.stay_age * (age - 30) / 10) * process.decay ** (
                    gap - 1
                )
        if k == process.education_state:
            v += process.school_age * max(22 - age, 0)
        out.append(v)
    return out


def softmax(values):
    top = max(values)
    weights = [math.exp(v - top) for v in values]
    return [w / sum(weights) for w in weights]


def goodness_of_fit(panel: CareerPanel, probs: np.ndarray) -> tuple[float, int, float]:
    """Chi-square statistic of observed against expected next-occupation counts.

    Transitions are grouped by (previous occupation, gap), gaps of `MAX_GAP` years and more
    together. In a group the counts O of the K next occupations have mean E = sum_i p_i and
    covariance V = sum_i (diag p_i - p_i p_i') under the truth (persons differ in p_i, so a
    Pearson statistic with E alone would be conservative). (O - E)' V^- (O - E) on the first
    K - 1 cells is chi-square(K - 1) per group, the groups are independent given the
    covariates, so the sum is chi-square with (K - 1) x groups degrees of freedom.

    Returns the statistic, its degrees of freedom and the largest |z| of a single
    (previous, gap, next) cell, z = (O - E) / sqrt(V_kk).
    """
    tr = panel.transitions()
    tax = panel.taxonomy
    prev = tax.positions(tr["prev_occupation"])
    nxt = tax.positions(tr["occupation"])
    gap = np.minimum(tr["gap"].to_numpy(dtype=int), MAX_GAP)
    k = len(tax)
    onehot = np.eye(k)[nxt]
    stat, df, zmax = 0.0, 0, 0.0
    for key in sorted(set(zip(prev.tolist(), gap.tolist(), strict=True))):
        rows = (prev == key[0]) & (gap == key[1])
        p = probs[rows]
        resid = onehot[rows].sum(axis=0) - p.sum(axis=0)
        cov = np.diag(p.sum(axis=0)) - p.T @ p
        stat += float(resid[:-1] @ np.linalg.solve(cov[:-1, :-1], resid[:-1]))
        df += k - 1
        zmax = max(zmax, float(np.max(np.abs(resid) / np.sqrt(np.diag(cov)))))
    return stat, df, zmax


def test_probabilities_computed_by_hand():
    """Three occupations with round parameters, worked out on paper from the docstring."""
    from labor_econ.datasets.simulate import SimulatedProcess

    tax = Taxonomy([1, 2, 3], ["A", "B", "C"], name="abc")
    process = SimulatedProcess(
        taxonomy=tax, alpha=np.array([0.0, 0.5, -0.5]), skill=np.array([0.0, 1.0, 2.0]),
        beta_educ=0.8, distance=0.8, stay=1.0, stay_age=0.5, decay=0.8, school_age=0.6,
        education_state=None,
    )  # fmt: skip
    frame = pd.DataFrame(
        {"pid": [1, 1, 1], "year": [1990, 1991, 1994], "occ": [1, 1, 2],
         "born": [1960, 1960, 1960], "educ": [15.0, 15.0, 15.0]}
    )  # fmt: skip
    panel = CareerPanel(
        frame, id="pid", time="year", occupation="occ", taxonomy=tax, birth_year="born",
        static=["educ"],
    )  # fmt: skip
    probs = process.probabilities(panel, include_first=True).to_numpy()
    # e = (15 - 12.5) / 2.5 = 1, so beta_educ * e * skill = 0, 0.8, 1.6.
    # First wave (no j terms): logits 0, 1.3, 1.1.
    first = np.exp([0.0, 1.3, 1.1])
    # 1991, from A (skill 0), age 31, gap 1: distance terms 0, -0.8, -1.6;
    # stay bonus (1 + 0.5 * 0.1) * 0.8**0 = 1.05 on A.
    annual = np.exp([1.05, 0.5, -0.5])
    # 1994, from A, age 34, gap 3: stay bonus (1 + 0.5 * 0.4) * 0.8**2 = 0.768.
    gap3 = np.exp([0.768, 0.5, -0.5])
    want = np.array([first / first.sum(), annual / annual.sum(), gap3 / gap3.sum()])
    np.testing.assert_allclose(probs, want, rtol=1e-12)


@pytest.mark.parametrize("special_states", [False, True])
def test_simulated_process_follows_its_docstring(special_states):
    panel, process = simulate_panel(
        60, seed=2, special_states=special_states, miss_rate=0.3, return_process=True
    )
    assert (process.education_state is not None) == special_states
    tr = panel.transitions(include_first=True)
    probs = process.probabilities(panel, include_first=True)
    age = (tr.index.get_level_values(1) - tr["birth_year"]).to_numpy()
    first = tr["prev_occupation"].isna()
    gap = tr["gap"].fillna(0).astype(int)
    picks = {
        "first wave": np.flatnonzero(first)[0],
        "first wave, age under 22": np.flatnonzero(first.to_numpy() & (age < 22))[0],
        "gap 1": np.flatnonzero(gap == 1)[3],
        "gap 2": np.flatnonzero(gap == 2)[0],
        "gap 4 or more": np.flatnonzero(gap >= 4)[0],
        "age under 22": np.flatnonzero(~first.to_numpy() & (age < 22))[0],
        "age over 50": np.flatnonzero(~first.to_numpy() & (age > 50))[0],
    }
    positions = {c: i for i, c in enumerate(panel.taxonomy.codes)}
    for what, i in picks.items():
        row = tr.iloc[i]
        prev = None if first.iloc[i] else positions[row["prev_occupation"]]
        want = softmax(docstring_logits(process, prev, row["educ"], age[i], gap.iloc[i]))
        np.testing.assert_allclose(probs.iloc[i].to_numpy(), want, rtol=1e-10, err_msg=what)


# Transitions grouped by (previous occupation, gap) are compared with the probabilities the
# simulator returns. The size is chosen so that the test catches the two bugs of issue 15,
# each injected into a copy of simulate_panel (2,000 persons, 30 NLSY79 waves, miss_rate 0.3,
# about 40,700 transitions, 9 occupations; 360 degrees of freedom; chi-square p of 0.001 at
# 449; seeds 0, 1, 2):
#   correct simulator                     X2 = 332, 314, 385   (p = 0.85, 0.96, 0.18)
#   gaps ignore missed waves              X2 = 1996, 2534, 1735 (p < 1e-178)
#   careers move on through missed waves  X2 = 1348, 1304, 1124 (p < 1e-79)
# (at 500 persons still X2 = 651 and 684 against 324, p < 1e-18). Over 40 more seeds of the
# correct simulator the p-values were uniform (5% below 0.05, smallest 0.009). The largest
# |z| of a single (previous, gap, next) cell was 2.7-4.2 when correct, 13.8-15.0 and 7.4-10.1
# with the bugs. The old stay-rate check moved only 2.66 and -2.27 standard errors.
N_PERSONS, SEED, MISS_RATE = 2000, 0, 0.3


@pytest.fixture(scope="module")
def simulated():
    return simulate_panel(N_PERSONS, seed=SEED, miss_rate=MISS_RATE, return_process=True)


def test_simulated_transitions_fit_the_true_probabilities(simulated):
    panel, process = simulated
    gaps = panel.transitions()["gap"]
    assert (gaps == 1).sum() > 10_000 and (gaps == 2).sum() > 10_000 and (gaps >= 3).sum() > 5_000
    stat, df, zmax = goodness_of_fit(panel, process.probabilities(panel).to_numpy())
    assert df == 9 * 8 * MAX_GAP
    assert stat < stats.chi2.isf(1e-3, df), f"X2 = {stat:.0f} on {df} df"
    # Bonferroni over the 9 x 9 x 5 cells at 0.001: |z| < 4.6.
    assert zmax < stats.norm.isf(1e-3 / 2 / (9 * 9 * MAX_GAP))


def test_goodness_of_fit_rejects_wrong_gaps(simulated):
    """The same test on probabilities that use the schedule's gap, not the observed one."""
    panel, process = simulated
    tr = panel.transitions()
    years = np.asarray(sorted(panel.data["year"].unique()))
    scheduled = years[1:] - years[:-1]
    wave_gap = scheduled[np.searchsorted(years, tr.index.get_level_values(1)) - 1]
    assert (wave_gap != tr["gap"].to_numpy()).mean() > 0.2
    wrong = np.exp(
        log_softmax(
            process.logits(
                panel.taxonomy.positions(tr["prev_occupation"]),
                tr["educ"].to_numpy(),
                tr.index.get_level_values(1) - tr["birth_year"].to_numpy(),
                wave_gap,
            ),
            axis=1,
        )
    )
    stat, df, _ = goodness_of_fit(panel, wrong)
    assert stat > stats.chi2.isf(1e-10, df), f"X2 = {stat:.0f} on {df} df"


def test_true_probabilities_need_age_and_education(toy_panel):
    _, process = simulate_panel(5, taxonomy=toy_panel.taxonomy, return_process=True)
    with pytest.raises(ValueError, match="no 'educ' covariate"):
        process.probabilities(toy_panel)
