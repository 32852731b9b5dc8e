"""A persistent, resumable store of log q scores: Parquet shards keyed by (id, time).

Scoring an NLSY-sized panel takes hours on a GPU. `score_panel` writes the scores as it goes,
in shards of whole persons, each written to a temporary file and renamed into place, so a run
killed at any moment leaves only complete shards; the rerun reads them and scores only what
is missing. The store's metadata (model, template, taxonomy, scorer settings, library
version) must match the run's, so that scores of different models are never mixed.

Layout of a store directory::

    metadata.json              # what the scores are scores of
    shards/part-<uuid>.parquet # columns id, time, prompt_sha256, then one per taxonomy code

Under ``torchrun`` / ``accelerate launch`` (several processes, ``WORLD_SIZE > 1``) each rank
scores its share of the shards and writes them to the shared store; every rank then waits
until the store holds every transition and returns the whole table.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..panel import CareerPanel, _scalar
from ..templates import ResumeTemplate

if TYPE_CHECKING:
    from ..taxonomy import Taxonomy
    from .loading import CausalLM
    from .scoring import CandidateScorer

__all__ = ["ScoreStore", "StoreMismatchError", "score_panel", "store_metadata"]

FORMAT_VERSION = 1
_KEY = ["id", "time"]
_PROMPT_HASH = "prompt_sha256"
_POLL_SECONDS = 2.0


class StoreMismatchError(ValueError):
    """A score store was written for another model, template, taxonomy or scorer.

    Examples
    --------
    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.demo import demo_lm
    >>> fit_panel, test = wage_panel().split(test_size=0.2, seed=0)
    >>> train, val = fit_panel.split(test_size=0.1, seed=0)
    >>> lm = demo_lm(train, val)  # the demo's tiny Llama (cached)
    >>> import tempfile
    >>> from labor_econ import score_panel
    >>> from labor_econ.lm import StoreMismatchError
    >>> path, small = tempfile.mkdtemp(), val.subset(val.persons[:3])
    >>> logq = score_panel(lm, small, template="labor_llm", store=path)
    >>> try:
    ...     score_panel(lm, small, template="plain", store=path)
    ... except StoreMismatchError as err:
    ...     print(err)  # doctest: +ELLIPSIS
    the score store ... holds scores of other inputs; differs in: template.footer ...
    """


def _sha256(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def taxonomy_hash(taxonomy: Taxonomy) -> str:
    """SHA-256 of the taxonomy's codes and titles, in order."""
    return _sha256([[repr(c), t] for c, t in zip(taxonomy.codes, taxonomy.titles, strict=True)])


def model_fingerprint(lm: CausalLM) -> str:
    """SHA-256 of the model's config, its checkpoint's weight files and a sample of its weights.

    The weight-file index (names and sizes, and the safetensors index) is read where
    ``lm.name`` is a local directory; the weight sample (up to 64 values of every tensor, as
    bytes) catches weights changed in memory, e.g. by fine-tuning.
    """
    import torch

    config = {
        k: v
        for k, v in lm.model.config.to_dict().items()
        if not k.startswith("_") and k not in ("transformers_version", "dtype", "torch_dtype")
    }
    files: dict[str, Any] = {}
    directory = Path(lm.name)
    if directory.is_dir():
        for path in sorted(directory.glob("*")):
            if path.suffix in (".safetensors", ".bin", ".pt", ".pth") or path.name.endswith(
                ".index.json"
            ):
                files[path.name] = path.stat().st_size
                if path.name.endswith(".index.json"):
                    files[path.name + ":sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    digest = hashlib.sha256(_sha256([config, files]).encode())
    with torch.no_grad():
        for name, param in lm.model.named_parameters():
            flat = param.detach().reshape(-1)
            sample = flat[:: max(1, flat.numel() // 64)][:64].float().cpu().numpy()
            digest.update(name.encode())
            digest.update(str(tuple(param.shape)).encode())
            digest.update(sample.tobytes())
    return digest.hexdigest()


def store_metadata(
    lm: CausalLM, template: ResumeTemplate, taxonomy: Taxonomy, scorer: CandidateScorer
) -> dict[str, Any]:
    """What a store's scores are scores of: checked on every run that writes to the store."""
    from .. import __version__

    return {
        "format": FORMAT_VERSION,
        "model": lm.name,
        "model_sha256": model_fingerprint(lm),
        "template": template.to_dict(),
        "taxonomy": {
            "name": taxonomy.name,
            "size": len(taxonomy),
            "sha256": taxonomy_hash(taxonomy),
        },
        "scorer": {"method": "token trie (CandidateScorer)", "dtype": str(lm.model.dtype)},
        "labor_econ": __version__,
    }


def _prompt_hashes(prompts: Sequence[str]) -> list[str]:
    return [hashlib.sha256(p.encode("utf-8")).hexdigest()[:16] for p in prompts]


class ScoreStore:
    """A directory of Parquet shards of log q scores keyed by (id, time).

    Parameters
    ----------
    path : str or os.PathLike
        The store's directory (created if needed when `metadata` is given).
    metadata : dict, optional
        The metadata of the run about to write. A new store records it; an existing store
        must hold the same, or `StoreMismatchError` names every entry that differs. None
        opens an existing store to read (as `LLMTransitionModel.from_store` does).

    Raises
    ------
    StoreMismatchError
        When the stored metadata differs from `metadata`.
    FileNotFoundError
        When reading (no `metadata`) a directory that holds no store.

    Examples
    --------
    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.demo import demo_lm
    >>> fit_panel, test = wage_panel().split(test_size=0.2, seed=0)
    >>> train, val = fit_panel.split(test_size=0.1, seed=0)
    >>> lm = demo_lm(train, val)  # the demo's tiny Llama (cached)
    >>> import tempfile
    >>> from labor_econ import score_panel
    >>> from labor_econ.lm import ScoreStore
    >>> path = tempfile.mkdtemp()
    >>> logq = score_panel(lm, val.subset(val.persons[:3]), template="labor_llm", store=path)
    >>> store = ScoreStore(path)
    >>> len(store.shard_files()), store.read().shape == (len(logq), 1 + logq.shape[1])
    (1, True)
    """

    def __init__(self, path: str | os.PathLike, metadata: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        self.shards = self.path / "shards"
        meta_path = self.path / "metadata.json"
        if metadata is None:
            if not meta_path.exists():
                raise FileNotFoundError(f"{self.path} holds no score store (no metadata.json)")
            self.metadata = json.loads(meta_path.read_text())
        else:
            metadata = json.loads(json.dumps(metadata, default=str))
            if meta_path.exists():
                self._check(json.loads(meta_path.read_text()), metadata)
            else:
                self.shards.mkdir(parents=True, exist_ok=True)
                _write_atomic(meta_path, json.dumps(metadata, indent=2, sort_keys=True).encode())
            self.metadata = metadata
        self._frames: dict[str, pd.DataFrame] = {}

    def _check(self, stored: dict[str, Any], wanted: dict[str, Any]) -> None:
        differ = [
            f"{key} (stored {_short(old)}, now {_short(new)})"
            for key, old, new in _differences(stored, wanted)
        ]
        if differ:
            raise StoreMismatchError(
                f"the score store {self.path} holds scores of other inputs; differs in: "
                + "; ".join(differ)
                + ". Use another store path, or delete this one to rescore."
            )

    def shard_files(self) -> list[Path]:
        """The complete shards (temporary files of an interrupted write are left out)."""
        if not self.shards.is_dir():
            return []
        return sorted(p for p in self.shards.glob("part-*.parquet"))

    def read(self) -> pd.DataFrame:
        """Every stored row, indexed by (id, time); shards read once and remembered."""
        files = self.shard_files()
        for path in files:
            if path.name not in self._frames:
                self._frames[path.name] = pd.read_parquet(path)
        frames = [self._frames[p.name] for p in files]
        if not frames:
            return pd.DataFrame(columns=[*_KEY, _PROMPT_HASH]).set_index(_KEY)
        table = pd.concat(frames, ignore_index=True).set_index(_KEY)
        duplicated = table.index.duplicated()
        if duplicated.any():
            pid, year = table.index[np.argmax(duplicated)]
            raise ValueError(
                f"the score store {self.path} holds person {_scalar(pid)!r}, year "
                f"{_scalar(year)!r} more than once (shards copied in from another run?)"
            )
        return table

    def write(self, index: pd.MultiIndex, prompts: Sequence[str], logq: np.ndarray, codes) -> Path:
        """Write one shard atomically (a temporary file renamed into place)."""
        frame = pd.DataFrame(
            {
                "id": index.get_level_values(0),
                "time": index.get_level_values(1),
                _PROMPT_HASH: _prompt_hashes(prompts),
            }
        )
        scores = pd.DataFrame(np.asarray(logq, dtype=np.float64), columns=[str(c) for c in codes])
        frame = pd.concat([frame, scores], axis=1)
        path = self.shards / f"part-{uuid.uuid4().hex}.parquet"
        tmp = self.shards / f".tmp-{path.name}"
        frame.to_parquet(tmp, engine="pyarrow", index=False)
        os.replace(tmp, path)
        return path


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}-{path.name}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _differences(a: Any, b: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """(dotted key, a's value, b's value) for every leaf entry where two JSON dicts differ."""
    if not (isinstance(a, dict) and isinstance(b, dict)):
        return [] if a == b else [(prefix, a, b)]
    out = []
    for key in sorted(set(a) | set(b), key=str):
        out += _differences(a.get(key), b.get(key), f"{prefix}.{key}" if prefix else str(key))
    return out


def _short(value: Any, width: int = 80) -> str:
    text = json.dumps(value, sort_keys=True, default=str) if value is not None else "nothing"
    return text if len(text) <= width else text[: width - 1] + "…"


def _rank_and_world() -> tuple[int, int]:
    """This process's rank and the number of processes (torch.distributed, else env vars)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def _barrier(world: int) -> None:
    """Wait for every rank; starts a gloo process group under torchrun when none exists."""
    if world == 1:
        return
    import torch.distributed as dist

    if not dist.is_initialized():
        # Only a barrier is ever needed: gloo works for CPU and GPU runs alike.
        dist.init_process_group(backend="gloo")
        atexit.register(dist.destroy_process_group)
    dist.barrier()


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
    template: str | ResumeTemplate = "labor_llm",
    store: str | os.PathLike | None = None,
    scorer: CandidateScorer | None = None,
    include_first: bool = False,
    shard_transitions: int = 1024,
    progress: bool = True,
) -> pd.DataFrame:
    """log q of every occupation for every transition of a panel, kept in a score store.

    Parameters
    ----------
    lm : CausalLM
        The model (see :func:`labor_econ.load_lm`).
    panel : CareerPanel
        The transitions to score.
    template : str or ResumeTemplate, default "labor_llm"
        How careers are written (as the checkpoint was trained).
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

    Returns
    -------
    pandas.DataFrame
        Rows: the panel's transitions, indexed by (id, time) as ``panel.transitions()``;
        columns: the taxonomy codes; values: log q.

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
    template = ResumeTemplate.coerce(template)
    taxonomy = panel.taxonomy
    scorer = scorer if scorer is not None else CandidateScorer(lm)
    prompts = template.prompts(panel, include_first=include_first)
    candidates = template.continuations(taxonomy)
    index = prompts.index
    codes = list(taxonomy.codes)

    def score(rows: np.ndarray) -> np.ndarray:
        from .scoring import ContextLengthError

        try:
            texts = prompts.iloc[rows].tolist()
            # The scorer caches candidate tokenizations per last wave of the template.
            return scorer.score(texts, candidates, starts=template.wave_starts(texts))
        except ContextLengthError as err:
            labels = [f"person {_scalar(i)!r}, year {_scalar(t)!r}" for i, t in index[rows]]
            raise err.relabel(labels) from None

    if store is None:
        return pd.DataFrame(score(np.arange(len(index))), index=index, columns=pd.Index(codes))

    db = ScoreStore(store, store_metadata(lm, template, taxonomy, scorer))
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
                db.write(index[rows], prompts.iloc[rows].tolist(), score(rows), codes)
                bar.update(len(rows))
    finally:
        scorer.progress = quiet
    return _assemble(db, index, prompts, codes, wait=world > 1)


def _assemble(
    db: ScoreStore, index: pd.MultiIndex, prompts: pd.Series, codes: list, *, wait: bool
) -> pd.DataFrame:
    """The store's rows for `index`, checked against the prompts they were scored on."""
    table = db.read()
    while wait and not index.isin(table.index).all():
        time.sleep(_POLL_SECONDS)  # other ranks are still writing their shards
        table = db.read()
    return _select(db, table, index, prompts, codes)


def _select(
    db: ScoreStore,
    table: pd.DataFrame,
    index: pd.MultiIndex,
    prompts: pd.Series | None,
    codes: list,
) -> pd.DataFrame:
    present = index.isin(table.index)
    if not present.all():
        absent = index[~present]
        listed = ", ".join(f"({_scalar(i)!r}, {_scalar(t)!r})" for i, t in absent[:5])
        raise ValueError(
            f"the score store {db.path} lacks {len(absent)} of the panel's {len(index)} "
            f"transitions (id, time), e.g. {listed}; score them with score_panel(..., "
            "store=...) first"
        )
    rows = table.loc[index]
    if prompts is not None:
        changed = rows[_PROMPT_HASH].to_numpy() != np.asarray(_prompt_hashes(prompts.tolist()))
        if changed.any():
            pid, year = index[np.argmax(changed)]
            raise ValueError(
                f"the score store {db.path} scored another prompt for person {_scalar(pid)!r}, "
                f"year {_scalar(year)!r} ({int(changed.sum())} transitions differ): the panel's "
                "data changed since it was scored; use a new store for this panel"
            )
    columns = [str(c) for c in codes]
    lacking = [c for c in columns if c not in rows.columns]
    if lacking:
        raise ValueError(f"the score store {db.path} has no scores for codes {lacking[:5]}")
    return pd.DataFrame(rows[columns].to_numpy(), index=index, columns=pd.Index(codes))


def read_store(
    path: str | os.PathLike, panel: CareerPanel, *, include_first: bool = False
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The stored log q of a panel's transitions, and the store's metadata, without an LM.

    The panel's taxonomy must be the store's; where the stored template can be rebuilt, each
    row's prompt is checked against the panel's.
    """
    db = ScoreStore(path)
    meta = db.metadata
    stored = meta.get("taxonomy", {})
    if stored.get("sha256") != taxonomy_hash(panel.taxonomy):
        raise StoreMismatchError(
            f"the score store {db.path} was scored on taxonomy {stored.get('name')!r} "
            f"({stored.get('size')} codes), not the panel's {panel.taxonomy.name!r} "
            f"({len(panel.taxonomy)} codes) or a changed copy of it"
        )
    template = ResumeTemplate.from_dict(meta["template"])
    prompts = template.prompts(panel, include_first=include_first)
    frame = _select(db, db.read(), prompts.index, prompts, list(panel.taxonomy.codes))
    return frame, meta
