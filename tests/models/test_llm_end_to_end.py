"""LLMModel on a real (tiny) checkpoint against the naive scorer, for every preset.

Every other model test starts from precomputed scores (`from_scores`); these tests build the
model from an LM and check that the scores it computes are the naive reference's on the
template's own prompts and continuations, and that a new panel is scored once.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import log_softmax

from labor_econ.datasets import simulate_panel
from labor_econ.lm import CandidateScorer, naive_score
from labor_econ.lm.testing import tiny_lm
from labor_econ.models.llm import LLMModel
from labor_econ.templates import PRESETS

TOL = 1e-4  # float32 model, float64 sums: the trie and the naive forward agree far closer


@pytest.fixture(scope="module")
def panel():
    return simulate_panel(4, seed=2, years=range(1990, 1994))


@pytest.fixture(scope="module")
def new_panel():
    return simulate_panel(3, seed=3, years=range(1991, 1994))


@pytest.fixture(scope="module")
def lm(tmp_path_factory):
    corpus = simulate_panel(60, seed=1, years=range(1985, 1995))
    texts = [text for t in PRESETS.values() for text in t.resumes(corpus)]
    # A large init so that a wrong prompt, candidate, mask or position moves scores >> TOL.
    return tiny_lm(
        tmp_path_factory.mktemp("end_to_end_lm"), texts, vocab_size=600, initializer_range=0.3,
        seed=2, device="cpu",
    )  # fmt: skip


class CountingScorer(CandidateScorer):
    """A CandidateScorer that records the number of prompts of every `score` call."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls: list[int] = []

    def score(self, prompts, candidates, **kwargs):
        self.calls.append(len(prompts))
        return super().score(prompts, candidates, **kwargs)


def test_checkpoint_is_float32(lm):
    assert lm.model.dtype == torch.float32


@pytest.mark.parametrize("preset", list(PRESETS))
def test_logq_equals_naive_score_on_the_templates_texts(lm, panel, preset):
    template = PRESETS[preset]
    model = LLMModel(panel, lm, template=template)
    prompts = template.prompts(panel)
    assert prompts.index.equals(model.transitions.index)
    candidates = template.continuations(panel.taxonomy)
    want = naive_score(lm, prompts.tolist(), candidates)
    assert model.logq.shape == (panel.n_transitions, len(panel.taxonomy)) == want.shape
    np.testing.assert_allclose(model.logq, want, rtol=0, atol=TOL)
    # The uncalibrated model is the LM renormalized over the taxonomy.
    np.testing.assert_allclose(
        model.fit().predict().to_numpy(), np.exp(log_softmax(want, axis=1)), rtol=0, atol=1e-4
    )


def test_presets_give_different_scores(lm, panel):
    """Guards the test above: the presets differ in what the LM reads and scores."""
    scores = [LLMModel(panel, lm, template=t).logq for t in PRESETS.values()]
    for i in range(len(scores)):
        for j in range(i):
            assert np.abs(scores[i] - scores[j]).max() > 0.1


def test_for_panel_scores_a_new_panel_once(lm, panel, new_panel):
    scorer = CountingScorer(lm, progress=False)
    model = LLMModel(panel, lm, template="plain", scorer=scorer)
    res = model.fit()
    res.predict()
    model.loglike(res.params)
    assert scorer.calls == [panel.n_transitions]
    calibrated = model.fit(calibrate=True)
    for results in (res, calibrated, res):
        results.predict(new_panel)
        results.evaluate(new_panel)
    again = model.for_panel(new_panel)
    assert again is model.for_panel(new_panel) and again.logq is again.logq
    assert model.for_panel(panel) is model
    assert scorer.calls == [panel.n_transitions, new_panel.n_transitions]
    template = PRESETS["plain"]
    want = naive_score(
        lm, template.prompts(new_panel).tolist(), template.continuations(new_panel.taxonomy)
    )
    np.testing.assert_allclose(again.logq, want, rtol=0, atol=TOL)
    # Predictions on the new panel use its own scores at the calibrated parameters.
    scale, stay = calibrated.params.to_numpy()
    util = scale * want
    prev = new_panel.taxonomy.positions(new_panel.transitions()["prev_occupation"])
    util[np.arange(len(prev)), prev] += stay
    np.testing.assert_allclose(
        calibrated.predict(new_panel).to_numpy(), np.exp(log_softmax(util, axis=1)), atol=1e-6
    )
