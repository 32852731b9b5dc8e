"""LLM simulation with a score store: the simulated resumes' scores are kept (the store's
``simulated`` kind, keyed by the prompt's text), so a rerun, a longer or larger simulation or
an interrupted one scores only what the store lacks, with the same draws as without a store."""

import warnings

import numpy as np
import pytest

from labor_econ.lm import CandidateScorer, ScoreStore, StoreCorruptError, StoreMismatchError
from labor_econ.models.llm import LLMModel, LMScorings
from labor_econ.models.simulate import counterfactual
from labor_econ.templates import ResumeTemplate

# a random tiny LM writes no real titles: its low valid mass is expected here
pytestmark = pytest.mark.filterwarnings("ignore:.*valid mass")

START, HORIZON, DRAWS, SEED = 1984, 2, 4, 3


@pytest.fixture(scope="module")
def lm(random_tiny_lm):
    return random_tiny_lm


@pytest.fixture(scope="module")
def small(wage):
    return wage.subset(wage.persons[:3])


class Recording(CandidateScorer):
    """The scorer, recording every prompt it scores (and raising on call `fail_on`)."""

    def __init__(self, lm, fail_on=None):
        super().__init__(lm, progress=False)
        self.calls: list[list[str]] = []
        self.fail_on = fail_on

    def score(self, prompts, candidates, **kwargs):
        if len(self.calls) + 1 == self.fail_on:
            raise RuntimeError("killed")
        self.calls.append(list(prompts))
        return super().score(prompts, candidates, **kwargs)

    @property
    def prompts(self) -> list[str]:
        return [p for call in self.calls for p in call]


def _results(small, lm, store=None, scorer=None, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return LLMModel(small, lm, store=store, scorer=scorer, **kwargs).fit()


def _simulate(res, small, **kwargs):
    args = dict(start=START, horizon=HORIZON, n_draws=DRAWS, seed=SEED, keep_draws=DRAWS)
    return res.simulate(small, **{**args, **kwargs})


@pytest.fixture(scope="module")
def plain(small, lm):
    """The simulation without a store."""
    return _simulate(_results(small, lm), small)


def _run(res, small, **kwargs):
    """The simulation and its LM scorings (the model's counter before and after, which the
    simulation reports as its own)."""
    before = res.model.lm_scorings.copy()
    sim = _simulate(res, small, **kwargs)
    counts = res.model.lm_scorings - before
    assert sim.lm_scorings == counts
    assert f"LM scored {counts.scored}" in repr(sim)
    return sim, counts


def test_stored_once_then_read_with_the_same_draws(small, lm, plain, tmp_path):
    scorer = Recording(lm)
    res = _results(small, lm, store=tmp_path, scorer=scorer)
    scorer.calls.clear()  # the panel's own scoring (fit) is not the simulation's
    first, counts = _run(res, small)
    # (c) the draws of a simulation with a store equal those without one
    np.testing.assert_array_equal(first.kept, plain.kept)
    np.testing.assert_array_equal(first.counts, plain.counts)
    # (a) every distinct state's prompt asked for, each distinct text scored once, stored
    assert counts.prompts == first.scorings.sum()
    assert counts.scored == len(set(scorer.prompts)) == len(scorer.prompts) > 0
    assert counts.scored + counts.shared == counts.prompts and counts.from_store == 0
    assert len(scorer.calls) == HORIZON  # one scorer call per step (the scorer batches)
    stored = ScoreStore(tmp_path, kind="simulated").read()
    assert len(stored) == counts.scored
    # (d) the stored log q are the scorer's on those prompts
    codes = list(small.taxonomy.codes)
    found, logq = ScoreStore(tmp_path, kind="simulated").read_prompts(scorer.prompts, codes)
    assert found.all()
    want = CandidateScorer(lm, progress=False).score(
        scorer.prompts,
        res.model.candidates,
        starts=res.model.template.wave_starts(scorer.prompts),
    )
    np.testing.assert_allclose(logq, want, rtol=0, atol=1e-6)
    # the same simulation again: nothing scored, everything read, the same draws
    scorer.calls.clear()
    again, counts2 = _run(res, small)
    assert scorer.calls == []
    assert counts2 == LMScorings(counts.prompts, counts.shared, 0, counts.scored)
    np.testing.assert_array_equal(again.kept, first.kept)
    np.testing.assert_array_equal(again.counts, first.counts)
    # a fresh model on the same store (another session) reads them too
    fresh = _results(small, lm, store=tmp_path, scorer=Recording(lm))
    fresh.model.scorer.calls.clear()
    third, counts3 = _run(fresh, small)
    assert counts3.scored == 0 and fresh.model.scorer.calls == []
    np.testing.assert_array_equal(third.kept, first.kept)


def test_a_longer_or_larger_simulation_scores_only_new_prompts(small, lm, plain, tmp_path):
    scorer = Recording(lm)
    res = _results(small, lm, store=tmp_path, scorer=scorer)
    scorer.calls.clear()
    _, counts = _run(res, small)
    before = set(scorer.prompts)
    # (b) a year more: the first two years' prompts are read, the third year's scored
    scorer.calls.clear()
    longer, counts_longer = _run(res, small, horizon=HORIZON + 1)
    assert counts_longer.from_store == counts.scored
    assert counts_longer.scored == len(scorer.prompts) > 0
    assert before.isdisjoint(scorer.prompts)
    assert counts_longer.prompts == longer.scorings.sum()
    np.testing.assert_array_equal(longer.kept[:, :HORIZON], plain.kept)
    # more draws: draws 0-3 use the same random numbers, so their prompts are all read
    stored = before | set(scorer.prompts)
    scorer.calls.clear()
    more, counts_more = _run(res, small, n_draws=3 * DRAWS)
    assert stored.isdisjoint(scorer.prompts)
    assert counts_more.scored == len(scorer.prompts)
    assert counts_more.from_store >= counts.scored
    np.testing.assert_array_equal(more.kept[:DRAWS], plain.kept)
    assert len(ScoreStore(tmp_path, kind="simulated").read()) == len(stored) + len(scorer.prompts)


def test_a_counterfactual_reads_its_factual_half(small, lm, plain, tmp_path):
    scorer = Recording(lm)
    res = _results(small, lm, store=tmp_path, scorer=scorer)
    scorer.calls.clear()
    _, counts = _run(res, small)
    before = set(scorer.prompts)
    scorer.calls.clear()
    args = dict(start=START, horizon=HORIZON, n_draws=DRAWS, seed=SEED, keep_draws=DRAWS)
    assert (small.data["black"] == 0).all()
    start = res.model.lm_scorings.copy()
    cf = counterfactual(res, small, set={"black": 1}, **args)
    both = res.model.lm_scorings - start
    # the factual half is read (the same prompts as the earlier run); the rewritten
    # headers are new prompts, scored
    np.testing.assert_array_equal(cf.factual.kept, plain.kept)
    assert both.from_store == counts.scored
    assert both.scored == len(scorer.prompts) > 0 and before.isdisjoint(scorer.prompts)
    assert all("black 1," in p for p in scorer.prompts)


def test_an_interrupted_simulation_keeps_its_first_step(small, lm, plain, tmp_path, monkeypatch):
    # (f) the scorer fails on its second call: the first year's scores are in the store
    scorer = Recording(lm)
    res = _results(small, lm, store=tmp_path, scorer=scorer)
    scorer.calls.clear()
    scorer.fail_on = 2
    with pytest.raises(RuntimeError, match="killed"):
        _simulate(res, small)
    (first_year,) = scorer.calls
    found, _ = ScoreStore(tmp_path, kind="simulated").read_prompts(first_year, small.taxonomy.codes)
    assert found.all() and len(ScoreStore(tmp_path, kind="simulated").read()) == len(first_year)
    # the rerun scores only the rest, and draws as an uninterrupted run
    scorer.fail_on, scorer.calls = None, []
    sim, counts = _run(res, small)
    assert counts.from_store == len(first_year)
    assert counts.scored == len(scorer.prompts) > 0
    assert set(first_year).isdisjoint(scorer.prompts)
    np.testing.assert_array_equal(sim.kept, plain.kept)


def test_a_store_of_other_inputs_is_refused(small, lm, tmp_path):
    # (e) the store holds the labor_llm template's scores of the tiny LM's titles
    _simulate(_results(small, lm, store=tmp_path), small, horizon=1)
    other_template = _results(small, lm, template="plain")
    other_template.model.store = tmp_path
    with pytest.raises(StoreMismatchError, match=r"differs in: template\.") as err:
        _simulate(other_template, small, horizon=1)
    assert str(tmp_path) in str(err.value)
    retitled = small.taxonomy.with_titles({small.taxonomy.codes[0]: "Astronauts"})
    other_titles = _results(small, lm, taxonomy=retitled)
    other_titles.model.store = tmp_path
    with pytest.raises(StoreMismatchError, match=r"differs in: taxonomy\.(sha256|titles)"):
        _simulate(other_titles, small, horizon=1)


def test_without_an_lm_the_store_is_only_read(small, lm, plain, tmp_path):
    # (3) a model built from the store has no LM: it simulates from what the store holds
    _simulate(_results(small, lm, store=tmp_path), small)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reader = LLMModel.from_store(small, tmp_path).fit()
    sim, counts = _run(reader, small)
    assert counts.scored == 0 and counts.from_store > 0
    np.testing.assert_array_equal(sim.kept, plain.kept)
    # a year more needs prompts the store lacks: the error names the store and the count
    with pytest.raises(ValueError, match=r"lacks \d+ of the \d+ distinct prompts") as err:
        _simulate(reader, small, horizon=HORIZON + 1)
    message = str(err.value)
    assert str(tmp_path) in message and f"year {START + HORIZON + 1}" in message
    assert "no LM" in message
    # its template or titles changed: the store's scores are not theirs
    reader.model.template = ResumeTemplate.preset("plain")
    reader.model._simulated_store = None
    with pytest.raises(StoreMismatchError, match="differs in: template"):
        _simulate(reader, small, horizon=1)


def test_without_lm_or_store_simulation_needs_the_lm(small, lm):
    res = _results(small, lm)
    bare = LLMModel.from_scores(small, res.model.logq).fit()
    with pytest.raises(ValueError, match="no LM to score"):
        _simulate(bare, small, horizon=1)


def test_simulated_resumes_write_the_titles_the_lm_was_scored_on(small, lm, tmp_path):
    # a model writing the checkpoint's own spellings writes them in simulated resumes too
    positions = small.taxonomy.positions(small.data[small.occupation])
    code = small.taxonomy.codes[int(np.bincount(positions).argmax())]
    retitled = small.taxonomy.with_titles({code: "Astronauts"})
    scorer = Recording(lm)
    res = _results(small, lm, scorer=scorer, taxonomy=retitled, store=tmp_path)
    scorer.calls.clear()
    _simulate(res, small, horizon=1)
    assert any("Astronauts" in p for p in scorer.prompts)
    assert not any(small.taxonomy.title(code) in p for p in scorer.prompts)
    # a model rebuilt from that store writes the same titles: it reads every prompt
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reader = LLMModel.from_store(small, tmp_path).fit()
    assert reader.model.written_taxonomy == res.model.written_taxonomy
    _, counts = _run(reader, small, horizon=1)
    assert counts.scored == 0 and counts.from_store > 0


def test_identical_prompts_are_scored_once(small, lm):
    scorer = Recording(lm)
    model = _results(small, lm, scorer=scorer).model
    scorer.calls.clear()
    prompts = list(model.prompts.iloc[:3])
    logq = model.simulated_logq([prompts[0], prompts[1], prompts[0], prompts[2]])
    assert scorer.calls == [prompts]
    np.testing.assert_array_equal(logq[0], logq[2])
    np.testing.assert_allclose(logq[[0, 1, 3]], model.logq[:3], rtol=0, atol=1e-6)
    assert model.lm_scorings == LMScorings(prompts=4, shared=1, scored=3, from_store=0)


# -- the store's simulated kind ---------------------------------------------------------------
@pytest.fixture
def simulated(tmp_path):
    return ScoreStore(tmp_path, {"template": {"name": "t"}, "taxonomy": {"name": "x"}}, "simulated")


def test_prompts_written_and_read_by_their_text(simulated):
    logq = np.log(np.array([[0.5, 0.25], [0.125, 0.75], [0.1, 0.2]]))
    simulated.write_prompts(["a", "b"], logq[:2], [1, 2])
    found, rows = simulated.read_prompts(["c", "b", "a"], [1, 2])
    assert found.tolist() == [False, True, True]
    np.testing.assert_array_equal(rows, logq[[1, 0]])
    # a second shard, and a reader opened later, see both
    simulated.write_prompts(["c"], logq[2:], [1, 2])
    found, rows = ScoreStore(simulated.path, kind="simulated").read_prompts(["c", "a"], [2, 1])
    assert found.all()
    np.testing.assert_array_equal(rows, logq[[2, 0]][:, ::-1])
    assert len(simulated.shard_files()) == 2 and (simulated.path / "simulated").is_dir()
    table = simulated.read()
    assert table.index.name == "prompt_sha256" and len(table) == 3


def test_a_prompt_stored_twice_is_kept_once(simulated):
    logq = np.log([[0.5, 0.25]])
    simulated.write_prompts(["a"], logq, [1, 2])
    simulated.write_prompts(["a"], logq, [1, 2])  # e.g. shards of two runs copied together
    assert len(simulated.read()) == 1
    found, rows = simulated.read_prompts(["a"], [1, 2])
    assert found.tolist() == [True] and rows.shape == (1, 2)


def test_simulated_kind_rules(simulated, tmp_path):
    with pytest.raises(ValueError, match=r"logq has shape \(1, 2\), expected \(2, 2\)"):
        simulated.write_prompts(["a", "b"], np.zeros((1, 2)), [1, 2])
    with pytest.raises(ValueError, match="written by write_prompts"):
        simulated.write(None, ["a"], np.zeros((1, 2)), [1, 2])
    trie = ScoreStore(tmp_path)
    with pytest.raises(ValueError, match="kind='simulated'"):
        trie.read_prompts(["a"], [1, 2])
    with pytest.raises(ValueError, match="kind='simulated'"):
        trie.write_prompts(["a"], np.zeros((1, 2)), [1, 2])
    simulated.write_prompts(["a"], np.zeros((1, 2)), [1, 2])
    with pytest.raises(StoreCorruptError, match=r"no scores for codes \['3'\]"):
        ScoreStore(tmp_path, kind="simulated").read_prompts(["a"], [1, 3])
    (shard,) = simulated.shard_files()
    shard.write_bytes(b"not parquet")
    with pytest.raises(StoreCorruptError, match="only its prompts are rescored"):
        ScoreStore(tmp_path, kind="simulated").read_prompts(["a"], [1, 2])
