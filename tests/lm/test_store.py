"""The score store: resumable Parquet shards, metadata checks, kill -9 and torchrun runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import labor_econ
from labor_econ import LLMModel, score_panel
from labor_econ.datasets import simulate_panel
from labor_econ.lm import CandidateScorer, ContextLengthError, StoreMismatchError, load_lm
from labor_econ.lm.testing import tiny_lm
from labor_econ.taxonomies import occ1990
from labor_econ.templates import ResumeTemplate

WORKER = Path(__file__).resolve().parents[1] / "score_panel_worker.py"
ROOT = Path(labor_econ.__file__).resolve().parent.parent
sys.path.insert(0, str(WORKER.parent))
from score_panel_worker import panel as worker_panel  # noqa: E402


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    env.pop("WORLD_SIZE", None)
    env.pop("RANK", None)
    return env


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    template = ResumeTemplate.preset("labor_llm")
    panel = simulate_panel(40, years=list(range(1990, 1996)), seed=9)
    continuations = template.continuations(panel.taxonomy) * 100
    texts = [p + c for p, c in zip(template.prompts(panel), continuations, strict=False)]
    path = tmp_path_factory.mktemp("store_lm")
    tiny_lm(path, texts, vocab_size=600, initializer_range=0.3, seed=3, device="cpu")
    return path


@pytest.fixture(scope="module")
def lm(checkpoint):
    return load_lm(checkpoint, device="cpu")


@pytest.fixture(scope="module")
def panel():
    return worker_panel(8)


@pytest.fixture(scope="module")
def reference(lm, panel):
    """Scores without a store."""
    return score_panel(lm, panel, template="labor_llm", progress=False)


class _Counting(CandidateScorer):
    def __init__(self, lm):
        super().__init__(lm, progress=False)
        self.prompts = 0

    def score(self, prompts, candidates, **kwargs):
        self.prompts += len(prompts)
        return super().score(prompts, candidates, **kwargs)


def test_scores_are_stored_and_only_missing_ones_rescored(lm, panel, reference, tmp_path):
    transitions = panel.transitions()
    assert reference.index.equals(transitions.index)
    assert list(reference.columns) == list(panel.taxonomy.codes)
    want = CandidateScorer(lm, progress=False).score(
        ResumeTemplate.preset("labor_llm").prompts(panel).tolist(),
        ResumeTemplate.preset("labor_llm").continuations(panel.taxonomy),
    )
    np.testing.assert_array_equal(reference.to_numpy(), want)

    store = tmp_path / "scores"
    first = score_panel(lm, panel, store=store, shard_transitions=6, progress=False)
    pd.testing.assert_frame_equal(first, reference)
    shards = sorted((store / "shards").glob("part-*.parquet"))
    assert len(shards) >= 3
    assert sum(len(pd.read_parquet(p)) for p in shards) == len(transitions)

    counting = _Counting(lm)
    again = score_panel(lm, panel, store=store, scorer=counting, progress=False)
    assert counting.prompts == 0
    pd.testing.assert_frame_equal(again, reference)

    lost = pd.read_parquet(shards[1])
    shards[1].unlink()
    again = score_panel(lm, panel, store=store, scorer=counting, progress=False)
    assert counting.prompts == len(lost)
    pd.testing.assert_frame_equal(again, reference)


def test_a_store_of_other_inputs_is_refused(lm, panel, tmp_path):
    store = tmp_path / "scores"
    score_panel(lm, panel, store=store, progress=False)
    with pytest.raises(StoreMismatchError, match=r"template\.line.*template\.name"):
        score_panel(lm, panel, template="labor_llm_numeric", store=store, progress=False)
    other = load_lm(lm.name, device="cpu")
    other.model.model.layers[0].mlp.down_proj.weight.data[0, 0] += 1.0  # a sampled entry
    with pytest.raises(StoreMismatchError, match="model_sha256") as info:
        score_panel(other, panel, store=store, progress=False)
    assert "template" not in str(info.value)
    tax = simulate_panel(3, taxonomy=occ1990(), years=[1990, 1991], seed=0)
    with pytest.raises(StoreMismatchError, match=r"taxonomy\.sha256"):
        score_panel(lm, tax, store=store, progress=False)


def test_a_changed_panel_is_not_read_from_the_store(lm, panel, tmp_path):
    store = tmp_path / "scores"
    score_panel(lm, panel, store=store, progress=False)
    data = panel.data.copy()
    first = data.index[0]
    codes = list(panel.taxonomy.codes)
    occupation = panel.occupation
    data.loc[first, occupation] = next(c for c in codes if c != data.loc[first, occupation])
    changed = type(panel)(
        data, id=panel.id, time=panel.time, occupation=occupation, taxonomy=panel.taxonomy,
        birth_year=panel.birth_year, static=panel.static, varying=panel.varying,
    )  # fmt: skip
    with pytest.raises(ValueError, match="another prompt for person"):
        score_panel(lm, changed, store=store, progress=False)


def test_model_on_a_store_and_from_the_store_without_lm(lm, panel, reference, tmp_path):
    store = tmp_path / "scores"
    model = LLMModel(panel, lm, store=store)
    np.testing.assert_array_equal(model.logq, reference.to_numpy())
    rebuilt = LLMModel.from_store(panel, store)
    assert rebuilt.lm is None and rebuilt.name == lm.name
    assert rebuilt.template == ResumeTemplate.preset("labor_llm")
    np.testing.assert_array_equal(rebuilt.logq, reference.to_numpy())
    assert rebuilt.fit().llf == pytest.approx(model.fit().llf, abs=0)
    bigger = worker_panel(10)
    with pytest.raises(ValueError, match=r"lacks \d+ of the panel's"):
        LLMModel.from_store(bigger, store)
    with pytest.raises(FileNotFoundError, match="no score store"):
        LLMModel.from_store(panel, tmp_path / "nothing")


@pytest.fixture(scope="module")
def one_thread(lm, tmp_path_factory):
    """Scores of one process on one thread, with the workers' shards (for bitwise equality)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        table = score_panel(
            lm, worker_panel(8), store=tmp_path_factory.mktemp("one"), shard_transitions=3,
            progress=False,
        )  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    table.columns = table.columns.astype(str)
    return table


def test_killed_run_resumes_to_identical_scores(checkpoint, lm, one_thread, tmp_path):
    store, out = tmp_path / "scores", tmp_path / "out.parquet"
    cmd = [sys.executable, str(WORKER), str(checkpoint), str(store), str(out), "--shard", "3"]
    child = subprocess.Popen([*cmd, "--sleep", "0.3"], env=_env())
    try:
        deadline = time.monotonic() + 240
        while len(list((store / "shards").glob("part-*.parquet"))) < 2:
            assert child.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no shards written within 4 minutes"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    partial = len(list((store / "shards").glob("part-*.parquet")))
    # The rerun, here in this process on one thread as the child ran, finishes the store.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        resumed = score_panel(lm, worker_panel(8), store=store, shard_transitions=3, progress=False)
    finally:
        torch.set_num_threads(threads)
    shards = list((store / "shards").glob("part-*.parquet"))
    assert partial >= 2 and len(shards) > partial
    rows = pd.concat([pd.read_parquet(p) for p in shards])
    assert not rows.duplicated(["id", "time"]).any()
    assert len(rows) == len(resumed) == worker_panel(8).n_transitions
    resumed.columns = resumed.columns.astype(str)
    pd.testing.assert_frame_equal(resumed, one_thread, check_exact=True)


def test_two_processes_under_torchrun_match_one(checkpoint, one_thread, tmp_path):
    store, out = tmp_path / "two", tmp_path / "two.parquet"
    run = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
           "--rdzv_backend=c10d", "--rdzv_endpoint=localhost:0"]  # fmt: skip
    result = subprocess.run(
        [*run, str(WORKER), str(checkpoint), str(store), str(out), "--shard", "3"],
        env=_env(), timeout=400, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    pd.testing.assert_frame_equal(pd.read_parquet(out), one_thread, check_exact=True)
    # Both ranks wrote shards to the shared store, none twice.
    shards = list((store / "shards").glob("part-*.parquet"))
    assert len(shards) >= 4
    assert sum(len(pd.read_parquet(p)) for p in shards) == len(one_thread)


def test_prompts_beyond_the_context_name_person_and_year(checkpoint, panel, tmp_path):
    short = load_lm(checkpoint, device="cpu")
    prompts = ResumeTemplate.preset("labor_llm").prompts(panel)
    lengths = pd.Series([len(short.tokenizer(p)["input_ids"]) for p in prompts], prompts.index)
    short.model.config.max_position_embeddings = limit = int(lengths.max())
    pid, year = lengths.idxmax()  # with a candidate this prompt is over the limit
    with pytest.raises(ContextLengthError, match=rf"person {pid}, year {year} \(\d+ tokens\)"):
        _ = LLMModel(panel, short, template="labor_llm").logq
    with pytest.raises(ContextLengthError, match=rf"context of {limit} .*: person \d+, year 19"):
        score_panel(short, panel, store=tmp_path / "scores", progress=False)
    assert not list((tmp_path / "scores" / "shards").glob("part-*"))


# -- one writer at a time; damaged stores named with what to delete ----------------------------
def test_two_runs_writing_one_store_at_once(checkpoint, one_thread, tmp_path):
    """Two independent score runs (not torchrun) on one store: before the lock both scored
    every transition and the store held each row twice, failing every later run. Now the
    second waits for the first, then finds nothing left to score."""
    store = tmp_path / "shared"
    cmd = [sys.executable, str(WORKER), str(checkpoint), str(store)]
    children = [
        subprocess.Popen(
            [*cmd, str(tmp_path / f"out{i}.parquet"), "--shard", "3", "--sleep", "0.2"],
            env=_env(),
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for i in range(2)
    ]
    errors = [child.communicate(timeout=400)[1] for child in children]
    assert [child.returncode for child in children] == [0, 0], errors
    assert sum("being written by another run; waiting" in e for e in errors) == 1, errors
    for i in range(2):
        pd.testing.assert_frame_equal(
            pd.read_parquet(tmp_path / f"out{i}.parquet"), one_thread, check_exact=True
        )
    rows = pd.concat([pd.read_parquet(p) for p in (store / "shards").glob("part-*.parquet")])
    assert not rows.duplicated(["id", "time"]).any() and len(rows) == len(one_thread)


def test_the_lock_waits_for_the_holder(tmp_path):
    """A lock held in another process makes store_lock wait until it is released."""
    from labor_econ.lm.store import LOCK_FILE, store_lock

    tmp_path.mkdir(exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from filelock import FileLock; "
         f"lock = FileLock({str(tmp_path / LOCK_FILE)!r}); lock.acquire(); "
         "print('held', flush=True); time.sleep(1.5)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        start = time.monotonic()
        with store_lock(tmp_path):
            waited = time.monotonic() - start
        assert waited > 0.5  # the holder slept 1.5 s after taking the lock
    finally:
        holder.kill()
        holder.wait()


def test_metadata_that_is_not_an_object_is_named(lm, panel, tmp_path):
    from labor_econ.lm.store import StoreCorruptError, read_store

    (tmp_path / "shards").mkdir()
    (tmp_path / "metadata.json").write_text("[1, 2]")
    with pytest.raises(StoreCorruptError, match=r"metadata\.json holds a JSON list.*delete the"):
        read_store(tmp_path, panel)
    with pytest.raises(StoreCorruptError, match=r"metadata\.json holds a JSON list"):
        score_panel(lm, panel, store=tmp_path, progress=False)
    (tmp_path / "metadata.json").write_bytes(b"{\xff")
    with pytest.raises(StoreCorruptError, match=r"metadata\.json cannot be read as JSON"):
        read_store(tmp_path, panel)


def test_damaged_shards_are_named_with_what_to_delete(lm, panel, reference, tmp_path):
    from labor_econ.lm.store import StoreCorruptError

    store = tmp_path / "s"
    score_panel(lm, panel, store=store, shard_transitions=10, progress=False)
    shards = sorted((store / "shards").glob("part-*.parquet"), key=lambda p: p.stat().st_mtime)
    # a shard copied in again: its rows twice
    copy = shards[0].with_name("part-copy.parquet")
    copy.write_bytes(shards[0].read_bytes())
    os.utime(copy, (time.time() + 10, time.time() + 10))
    with pytest.raises(StoreCorruptError, match=r"more than once.*Delete these shards.*part-copy"):
        score_panel(lm, panel, store=store, progress=False)
    copy.unlink()
    # a truncated shard
    shards[-1].write_bytes(shards[-1].read_bytes()[:50])
    with pytest.raises(StoreCorruptError, match=rf"shard .*{shards[-1].name} cannot be read"):
        score_panel(lm, panel, store=store, progress=False)
    shards[-1].unlink()  # what the message says to do: only that shard is rescored
    again = score_panel(lm, panel, store=store, shard_transitions=10, progress=False)
    pd.testing.assert_frame_equal(again, reference, rtol=1e-5)
