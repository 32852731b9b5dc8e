"""Scoring a panel: the one route from (LM, panel, template) to the n x K matrix of log q.

:func:`score_panel` resolves the template and titles once (:mod:`labor_econ.lm.resolve`),
builds every transition's prompt and candidates, scores them with a
:class:`~labor_econ.lm.scoring.CandidateScorer` (all codes, the observed continuation only,
or a pruned trie) and, given a store, keeps the scores in a resumable
:class:`~labor_econ.lm.store.ScoreStore` shared by the ranks of a torchrun group.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..panel import CareerPanel, _scalar
from ..templates import ResumeTemplate
from .inputs import check_no_prefix_candidates
from .store import (
    _POLL_SECONDS,
    _PRUNING,
    OBSERVED,
    ScoreStore,
    _barrier,
    _rank_and_world,
    _select,
    run_metadata,
    store_lock,
)

if TYPE_CHECKING:
    from ..taxonomy import Taxonomy
    from .loading import CausalLM
    from .scoring import CandidateScorer

__all__ = ["score_panel"]


def _shards(transitions: pd.MultiIndex, size: int) -> list[np.ndarray]:
    """Row positions cut into shards of whole persons, about `size` transitions each."""
    persons = transitions.get_level_values(0)
    starts = np.flatnonzero(np.r_[True, persons[1:] != persons[:-1]])
    out, begin = [], 0
    for s in list(starts[1:]) + [len(persons)]:
        if s - begin >= size:
            out.append(np.arange(begin, s))
            begin = s
    if begin < len(persons):
        out.append(np.arange(begin, len(persons)))
    return out


def score_panel(
    lm: CausalLM,
    panel: CareerPanel,
    *,
    template: str | os.PathLike | Mapping[str, Any] | ResumeTemplate | None = None,
    taxonomy: Taxonomy | None = None,
    store: str | os.PathLike | None = None,
    scorer: CandidateScorer | None = None,
    include_first: bool = False,
    shard_transitions: int = 1024,
    progress: bool = True,
    observed_only: bool = False,
    tolerance: float = 0.0,
) -> pd.DataFrame:
    """log q of every occupation for every transition of a panel, kept in a score store.

    Parameters
    ----------
    lm : CausalLM
        The model (see :func:`labor_econ.load_lm`).
    panel : CareerPanel
        The transitions to score.
    template : str, path, dict or ResumeTemplate, optional
        How careers are written (as the checkpoint was trained), as
        :meth:`ResumeTemplate.coerce` reads it. Default: the template saved with the
        checkpoint (``lm.template``), else the ``labor_llm`` preset with a
        :class:`~labor_econ.DefaultTemplateWarning` (see
        :func:`labor_econ.lm.resolve.resolve_template`).
    taxonomy : Taxonomy, optional
        The titles to write for the panel's codes, passed on purpose. Default: the titles
        saved with the checkpoint (``lm.taxonomy``) for the codes it knows, the panel's for
        the rest. The columns are always the panel's codes.
    store : str or os.PathLike, optional
        Directory of a score store. Scores already there are read, only the missing
        transitions are scored, and each shard is written as soon as it is done, so an
        interrupted run resumes where it stopped. A store written for another model,
        template, taxonomy, scorer dtype or library version is refused
        (`StoreMismatchError`). None: score in memory.
    scorer : CandidateScorer, optional
        Default ``CandidateScorer(lm)``.
    include_first : bool, default False
        Also score each person's first wave (prompt: the header only).
    shard_transitions : int, default 1024
        Transitions per shard (whole persons, so a shard may be a little larger): the work
        lost when a run is killed.
    progress : bool, default True
        A progress bar over transitions (rate and time left) when stderr is a terminal.
    observed_only : bool, default False
        Score only each transition's observed continuation: the paper's raw
        (unnormalized) metrics, log q of what happened, need nothing else. Each person's
        resume is fed once (see ``CandidateScorer.score_observed(..., persons=...)``), about
        1/100 of the tokens of scoring every code. Kept in the store's ``observed`` folder,
        next to the full scores. See :func:`labor_econ.lm.observed.raw_metrics`.
    tolerance : float, default 0.0
        Certified pruning of the candidate trie (see ``CandidateScorer.score``): titles
        in subtrees holding together at most `tolerance` of the mass found are not
        expanded, the observed title always is. 0 scores every title exactly. A store
        records the tolerance it was scored with.

    Returns
    -------
    pandas.DataFrame
        Rows: the panel's transitions, indexed by (id, time) as ``panel.transitions()``;
        columns: the taxonomy codes; values: log q. With ``observed_only``, one column
        ``logq_observed``.

    Notes
    -----
    Several processes: run the same script under ``torchrun --nproc_per_node=N`` (or
    ``accelerate launch``, or ``srun torchrun`` across nodes), each process loading the LM
    on its own GPU (``load_lm(..., device=f"cuda:{LOCAL_RANK}")``). The shards still to
    score are dealt out to the ranks (``RANK`` / ``WORLD_SIZE``, or an initialized
    ``torch.distributed`` group), each rank writes its own to the shared `store`, and every
    rank waits until the store is complete and returns the whole table. A shard's rows and
    batches do not depend on the number of processes, so the scores do not either. One
    process is the default; several need a `store` on a file system all of them see.

    Examples
    --------
    >>> logq = score_panel(lm, panel, template="labor_llm", store="scores/")  # doctest: +SKIP

    Run with the demo's tiny Llama:

    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.demo import demo_lm
    >>> fit_panel, test = wage_panel().split(test_size=0.2, seed=0)
    >>> train, val = fit_panel.split(test_size=0.1, seed=0)
    >>> lm = demo_lm(train, val)  # the demo's tiny Llama (cached)
    >>> import tempfile
    >>> small, store = val.subset(val.persons[:3]), tempfile.mkdtemp()
    >>> logq = score_panel(lm, small, template="labor_llm", store=store)
    >>> logq.shape == (small.n_transitions, 9)
    True
    >>> again = score_panel(lm, small, template="labor_llm", store=store)  # read, not rescored
    >>> bool((again == logq).all().all())
    True
    """
    from tqdm.auto import tqdm

    from .resolve import resolve_template, resolve_titles
    from .scoring import CandidateScorer

    if not isinstance(panel, CareerPanel):
        raise TypeError(f"panel must be a CareerPanel, got {type(panel).__name__}")
    if not (isinstance(shard_transitions, int) and shard_transitions >= 1):
        raise ValueError(f"shard_transitions must be a positive int, got {shard_transitions!r}")
    rank, world = _rank_and_world()
    if world > 1 and store is None:
        raise ValueError(
            f"running as {world} processes (WORLD_SIZE): pass store=DIR on a shared file "
            "system, where every rank writes its scores"
        )
    template = resolve_template(lm, template)
    taxonomy = resolve_titles(lm, panel.taxonomy, taxonomy, template)
    written = panel if taxonomy == panel.taxonomy else panel.with_taxonomy(taxonomy)
    scorer = scorer if scorer is not None else CandidateScorer(lm)
    prompts = template.prompts(written, include_first=include_first)
    index = prompts.index
    codes = list(taxonomy.codes)
    tolerance = _check_tolerance(tolerance)
    observed = panel.transitions(include_first=include_first)["occupation"].loc[index]
    if observed_only:
        # The hash covers the continuation too: a changed code keeps its prompt.
        heads = prompts
        ends = pd.Series([template.continuation(c, taxonomy) for c in observed], index=index)
        prompts = heads + ends
        codes = [OBSERVED]
        persons = index.get_level_values(0)
    else:
        candidates = template.continuations(taxonomy)
        check_no_prefix_candidates(
            candidates, list(taxonomy.titles) if template.outcome == "title" else codes
        )
        observed_columns = taxonomy.positions(observed)

    masses = np.full((len(index), 2), np.nan)  # found and unexpanded mass, when pruned

    def score(rows: np.ndarray) -> np.ndarray:
        from .scoring import ContextLengthError

        try:
            texts = prompts.iloc[rows].tolist()
            if observed_only:
                out = scorer.score_observed(
                    heads.iloc[rows].tolist(), ends.iloc[rows].tolist(), persons=persons[rows]
                )
                return out[:, None]
            # The scorer caches candidate tokenizations per last wave of the template.
            out = scorer.score(
                texts,
                candidates,
                starts=template.wave_starts(texts),
                tolerance=tolerance,
                observed=observed_columns[rows] if tolerance else None,
            )
            if tolerance:
                masses[rows] = np.c_[scorer.last_pruning.found, scorer.last_pruning.unexpanded]
            return out
        except ContextLengthError as err:
            labels = [f"person {_scalar(i)!r}, year {_scalar(t)!r}" for i, t in index[rows]]
            raise err.relabel(labels) from None

    if store is None:
        frame = pd.DataFrame(score(np.arange(len(index))), index=index, columns=pd.Index(codes))
        return _with_pruning(frame, tolerance, masses)

    metadata = run_metadata(
        lm, template, taxonomy, scorer, panel_taxonomy=panel.taxonomy, tolerance=tolerance
    )
    with store_lock(store, rank=rank, world=world):  # one run writes to a store at a time
        db = ScoreStore(store, metadata, kind="observed" if observed_only else "trie")
        missing = np.flatnonzero(~index.isin(db.read().index))
        _barrier(world)  # every rank has seen the same store before any rank writes to it
        shards = _shards(index[missing], shard_transitions)
        mine = [missing[s] for j, s in enumerate(shards) if j % world == rank]
        quiet, scorer.progress = scorer.progress, False
        try:
            with tqdm(
                total=int(sum(len(s) for s in mine)),
                unit="transition",
                desc=f"scoring (rank {rank}/{world})" if world > 1 else "scoring",
                disable=None if progress else True,
                smoothing=0.05,
            ) as bar:
                for rows in mine:
                    logq = score(rows)
                    extra = dict(zip(_PRUNING, masses[rows].T, strict=True)) if tolerance else None
                    db.write(index[rows], prompts.iloc[rows].tolist(), logq, codes, extra)
                    bar.update(len(rows))
        finally:
            scorer.progress = quiet
        frame = _assemble(db, index, prompts, codes, wait=world > 1)
        if tolerance:
            masses = db.read().loc[index, _PRUNING].to_numpy(dtype=np.float64)
    return _with_pruning(frame, tolerance, masses)


def _with_pruning(frame: pd.DataFrame, tolerance: float, masses: np.ndarray) -> pd.DataFrame:
    """`frame` with ``attrs["pruning"]``: the `Pruning` of a run with a tolerance."""
    if tolerance:
        from .scorer import Pruning

        frame.attrs["pruning"] = Pruning(tolerance, masses[:, 0], masses[:, 1])
    return frame


def _check_tolerance(tolerance: Any) -> float:
    if isinstance(tolerance, bool) or not isinstance(tolerance, int | float | np.floating):
        raise TypeError(f"tolerance must be a number, got {type(tolerance).__name__}")
    if not 0 <= tolerance < 1:
        raise ValueError(f"tolerance must be in [0, 1), got {tolerance!r}")
    return float(tolerance)


def _assemble(
    db: ScoreStore, index: pd.MultiIndex, prompts: pd.Series, codes: list, *, wait: bool
) -> pd.DataFrame:
    """The store's rows for `index`, checked against the prompts they were scored on."""
    table = db.read()
    while wait and not index.isin(table.index).all():
        time.sleep(_POLL_SECONDS)  # other ranks are still writing their shards
        table = db.read()
    return _select(db, table, index, prompts, codes)
