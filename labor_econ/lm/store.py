"""A persistent, resumable store of log q scores: Parquet shards keyed by (id, time).

Scoring an NLSY-sized panel takes hours on a GPU. `score_panel` (in
:mod:`labor_econ.lm.panel_scores`) writes the scores here as it goes, in shards of whole
persons, each written to a temporary file and renamed into place, so a run killed at any
moment leaves only complete shards; the rerun reads them and scores only what
is missing. The store's metadata (model, template, taxonomy, scorer settings, library
version) must match the run's, so that scores of different models are never mixed.

Layout of a store directory::

    metadata.json                # what the scores are scores of
    shards/part-<uuid>.parquet   # columns id, time, prompt_sha256, then one per taxonomy code
    observed/part-<uuid>.parquet # id, time, prompt_sha256 (of prompt + continuation),
                                 # logq_observed: the observed continuation's log q only
    simulated/part-<uuid>.parquet  # prompt_sha256 (the full hash of the prompt's text), then
                                   # one per taxonomy code: prompts that are no transition of
                                   # a panel, e.g. the resumes of simulated careers

A simulation (``LLMResults.simulate``) appends each simulated wave to the resume and scores
the next wave's distribution: those prompts are kept in the ``simulated`` folder keyed by
their text's hash, so a rerun, a longer or larger simulation, or a counterfactual whose
factual half was simulated before, reads what was scored and scores only the rest.

Under ``torchrun`` / ``accelerate launch`` (several processes, ``WORLD_SIZE > 1``) each rank
scores its share of the shards and writes them to the shared store; every rank then waits
until the store holds every transition and returns the whole table.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import sys
import uuid
from collections.abc import Iterator, Sequence
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
from ..errors import LaborEconError, StoreMismatchError

__all__ = [
    "ScoreStore",
    "StoreCorruptError",
    "StoreMismatchError",
    "store_lock",
    "store_metadata",
]

FORMAT_VERSION = 1
_KEY = ["id", "time"]
_PROMPT_HASH = "prompt_sha256"
_POLL_SECONDS = 2.0
#: Column of observed-only scores (``score_panel(..., observed_only=True)``).
OBSERVED = "logq_observed"
_KIND_FOLDERS = {"trie": "shards", "observed": "observed", "simulated": "simulated"}
#: The key of each kind's rows: a panel's transitions, or a prompt's text (by its hash).
_KIND_KEYS = {"trie": _KEY, "observed": _KEY, "simulated": [_PROMPT_HASH]}
#: Columns of a pruned run's masses (see `Pruning`), after the codes' scores.
_PRUNING = ["_found_mass", "_unexpanded_mass"]


class StoreCorruptError(LaborEconError, ValueError):
    """A score store's files are unreadable or contradict each other; the message names
    the files to delete.

    Examples
    --------
    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.demo import demo_lm
    >>> fit_panel, test = wage_panel().split(test_size=0.2, seed=0)
    >>> train, val = fit_panel.split(test_size=0.1, seed=0)
    >>> lm = demo_lm(train, val)  # the demo's tiny Llama (cached)
    >>> import tempfile
    >>> from labor_econ import score_panel
    >>> from labor_econ.lm import ScoreStore, StoreCorruptError
    >>> path, small = tempfile.mkdtemp(), val.subset(val.persons[:3])
    >>> logq = score_panel(lm, small, template="labor_llm", store=path, progress=False)
    >>> (shard,) = ScoreStore(path).shard_files()
    >>> _ = shard.write_bytes(b"not parquet")  # a shard cut short or overwritten
    >>> try:
    ...     score_panel(lm, small, template="labor_llm", store=path, progress=False)
    ... except StoreCorruptError as err:
    ...     print(err)
    the score store ...: shard ...part-....parquet cannot be read (...); delete that file and
    score again (only its transitions are rescored)
    """


#: The lock file in a store folder. One run writes to a store at a time (under torchrun,
#: rank 0 holds it for all ranks); later runs wait for it. The operating system drops the
#: lock of a killed process, so a crash never leaves the store locked.
LOCK_FILE = ".lock"


@contextlib.contextmanager
def store_lock(path: str | os.PathLike, *, rank: int = 0, world: int = 1) -> Iterator[None]:
    """Hold the store's write lock (rank 0 of a torchrun group, for every rank).

    Two runs scoring one store at once would both score the missing transitions and write
    the same rows twice; with the lock the second run waits, then reads what the first
    wrote and scores only what is still missing.
    """
    from filelock import FileLock, Timeout

    folder = Path(path)
    lock = None
    if rank == 0:
        folder.mkdir(parents=True, exist_ok=True)
        lock = FileLock(folder / LOCK_FILE)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            print(
                f"labor_econ: the score store {folder} is being written by another run; "
                f"waiting for it to finish (lock file {folder / LOCK_FILE})",
                file=sys.stderr,
                flush=True,
            )
            lock.acquire()
    try:
        _barrier(world)  # no rank reads the store before the lock is held
        yield
    finally:
        if lock is not None:
            lock.release()


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
    from .._version import __version__

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


def run_metadata(
    lm: CausalLM,
    template: ResumeTemplate,
    taxonomy: Taxonomy,
    scorer: CandidateScorer,
    *,
    panel_taxonomy: Taxonomy,
    tolerance: float = 0.0,
) -> dict[str, Any]:
    """`store_metadata` of a run writing `taxonomy`'s titles for `panel_taxonomy`'s codes,
    with the pruning tolerance and the titles written where they differ from the panel's:
    what ``score_panel`` and an LLM simulation check a store against."""
    metadata = store_metadata(lm, template, taxonomy, scorer)
    if tolerance:
        metadata["scorer"]["tolerance"] = tolerance
    if taxonomy != panel_taxonomy:  # the titles written, so a reader can rebuild them
        metadata["taxonomy"]["titles"] = _titles(taxonomy)
    return metadata


def _titles(taxonomy: Taxonomy) -> list[list[str]]:
    """Every (repr(code), title) pair, as the store's metadata lists the titles written."""
    return [[repr(c), t] for c, t in zip(taxonomy.codes, taxonomy.titles, strict=True)]


def _prompt_hashes(prompts: Sequence[str]) -> list[str]:
    return [hashlib.sha256(p.encode("utf-8")).hexdigest()[:16] for p in prompts]


def prompt_sha256(prompts: Sequence[str]) -> list[str]:
    """The full SHA-256 (hex) of each prompt's UTF-8 text: the key of a ``simulated`` row."""
    return [hashlib.sha256(p.encode("utf-8")).hexdigest() for p in prompts]


class ScoreStore:
    """A directory of Parquet shards of log q scores keyed by (id, time).

    Parameters
    ----------
    path : str or os.PathLike
        The store's directory (created if needed when `metadata` is given).
    metadata : dict, optional
        The metadata of the run about to write. A new store records it; an existing store
        must hold the same, or `StoreMismatchError` names every entry that differs. None
        opens an existing store to read (as `LLMModel.from_store` does).
    kind : {"trie", "observed", "simulated"}, default "trie"
        Which scores: every code's log q of a panel's transitions (folder ``shards``), the
        observed continuation's only (folder ``observed``), or every code's log q of
        prompts that are no panel transition, keyed by the prompt's hash (folder
        ``simulated``: see `read_prompts` and `write_prompts`). One store keeps every kind
        under one metadata.

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

    def __init__(
        self, path: str | os.PathLike, metadata: dict[str, Any] | None = None, kind: str = "trie"
    ) -> None:
        if kind not in _KIND_FOLDERS:
            raise ValueError(f"kind must be one of {sorted(_KIND_FOLDERS)}, got {kind!r}")
        self.path = Path(path)
        self.kind = kind
        self.key = _KIND_KEYS[kind]
        self.shards = self.path / _KIND_FOLDERS[kind]
        self._rows = "transitions" if kind != "simulated" else "prompts"
        meta_path = self.path / "metadata.json"
        if metadata is None:
            if not meta_path.exists():
                raise FileNotFoundError(f"{self.path} holds no score store (no metadata.json)")
            self.metadata = _read_metadata(meta_path)
        else:
            metadata = json.loads(json.dumps(metadata, default=str))
            if meta_path.exists():
                self._check(_read_metadata(meta_path), metadata)
            else:
                self.path.mkdir(parents=True, exist_ok=True)
                _write_atomic(meta_path, json.dumps(metadata, indent=2, sort_keys=True).encode())
            self.metadata = metadata
            self.shards.mkdir(parents=True, exist_ok=True)
        self._frames: dict[str, pd.DataFrame] = {}
        self._where: pd.DataFrame | None = None  # simulated kind: prompt hash -> (file, row)
        self._located: set[str] = set()

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
        """Every stored row, indexed by (id, time) (by ``prompt_sha256`` for the
        ``simulated`` kind); shards read once and remembered."""
        files = self.shard_files()
        for path in files:
            if path.name not in self._frames:
                self._frames[path.name] = self._read_shard(path)
        frames = [self._frames[p.name] for p in files]
        if not frames:
            return pd.DataFrame(columns=list(dict.fromkeys([*self.key, _PROMPT_HASH]))).set_index(
                self.key
            )
        table = pd.concat(frames, ignore_index=True).set_index(self.key)
        duplicated = table.index.duplicated()
        if duplicated.any():
            if self.kind == "simulated":
                # one prompt scored under one metadata twice (shards of two runs copied
                # together): the same scores, kept once
                return table[~duplicated]
            raise self._duplicates(files, frames, table.index[duplicated])
        return table

    def _read_shard(self, path: Path, columns: list[str] | None = None) -> pd.DataFrame:
        """A shard's rows (only `columns`, when given), or an error naming the file."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        fix = f"delete that file and score again (only its {self._rows} are rescored)"
        try:
            names = pq.ParquetFile(path).schema_arrow.names
            lacking = [c for c in dict.fromkeys([*self.key, _PROMPT_HASH]) if c not in names]
            if not lacking:
                frame = pd.read_parquet(path, columns=columns)
        except (OSError, ValueError, pa.ArrowException) as err:
            raise StoreCorruptError(
                f"the score store {self.path}: shard {path} cannot be read ({err}); {fix}"
            ) from err
        if lacking:
            raise StoreCorruptError(
                f"the score store {self.path}: shard {path} lacks the column(s) {lacking}; {fix}"
            )
        return frame

    # -- the simulated kind: prompts keyed by the hash of their text ------------------------
    def _require_simulated(self, what: str) -> None:
        if self.kind != "simulated":
            raise ValueError(
                f"ScoreStore.{what} reads and writes the 'simulated' kind (prompts keyed by "
                f"their text), not {self.kind!r}: open ScoreStore(path, kind='simulated')"
            )

    def _prompt_index(self) -> pd.DataFrame:
        """Every stored prompt hash -> (shard file, row); only the hash column of a shard
        is read (once), so a large store is not held in memory."""
        fresh = [p for p in self.shard_files() if p.name not in self._located]
        parts = [] if self._where is None else [self._where]
        for path in fresh:
            hashes = self._read_shard(path, columns=[_PROMPT_HASH])[_PROMPT_HASH]
            parts.append(
                pd.DataFrame(
                    {"file": path.name, "row": np.arange(len(hashes))},
                    index=pd.Index(hashes.to_numpy(dtype=object), name=_PROMPT_HASH),
                )
            )
            self._located.add(path.name)
        if fresh:
            where = pd.concat(parts)
            self._where = where[~where.index.duplicated()]  # see read(): kept once
        if self._where is None:
            empty = pd.Index([], dtype=object, name=_PROMPT_HASH)
            self._where = pd.DataFrame({"file": [], "row": []}, index=empty)
        return self._where

    def read_prompts(self, prompts: Sequence[str], codes) -> tuple[np.ndarray, np.ndarray]:
        """The stored log q of those of `prompts` the store holds (``simulated`` kind).

        Parameters
        ----------
        prompts : sequence of str
            The prompts' exact texts (looked up by their SHA-256).
        codes : sequence
            The taxonomy codes, in the order of the columns returned.

        Returns
        -------
        found : ndarray of bool, (len(prompts),)
            Which prompts the store holds.
        logq : ndarray, (found.sum(), len(codes))
            Their log q, in the order of `prompts`.
        """
        self._require_simulated("read_prompts")
        where = self._prompt_index()
        pos = where.index.get_indexer(prompt_sha256(prompts))
        found = pos >= 0
        columns = [str(c) for c in codes]
        out = np.empty((int(found.sum()), len(columns)))
        hits = where.iloc[pos[found]]
        for name in pd.unique(hits["file"]):
            mine = (hits["file"] == name).to_numpy()
            frame = self._read_shard(self.shards / name)
            lacking = [c for c in columns if c not in frame.columns]
            if lacking:
                raise StoreCorruptError(
                    f"the score store {self.path}: shard {self.shards / name} has no scores "
                    f"for codes {lacking[:5]}; delete that file and score again (only its "
                    "prompts are rescored)"
                )
            rows = hits["row"].to_numpy(dtype=np.int64)[mine]
            out[mine] = frame[columns].to_numpy(dtype=np.float64)[rows]
        return found, out

    def write_prompts(self, prompts: Sequence[str], logq: np.ndarray, codes) -> Path:
        """Append the log q of `prompts` (``simulated`` kind) as one shard, atomically
        (a temporary file renamed into place)."""
        self._require_simulated("write_prompts")
        logq = np.asarray(logq, dtype=np.float64)
        if logq.shape != (len(prompts), len(codes)):
            raise ValueError(
                f"logq has shape {logq.shape}, expected {(len(prompts), len(codes))} "
                "(one row per prompt, one column per code)"
            )
        frame = pd.DataFrame({_PROMPT_HASH: prompt_sha256(prompts)})
        scores = pd.DataFrame(logq, columns=[str(c) for c in codes])
        return self._write_frame(pd.concat([frame, scores], axis=1))

    def _duplicates(
        self, files: list[Path], frames: list[pd.DataFrame], keys: pd.Index
    ) -> StoreCorruptError:
        """Name the shards that repeat rows of earlier ones (by file time), to delete."""
        order = sorted(range(len(files)), key=lambda i: (files[i].stat().st_mtime, files[i].name))
        seen: set = set()
        extra: list[str] = []
        for i in order:
            rows = set(frames[i].set_index(_KEY).index)
            if rows & seen:
                extra.append(files[i].name)
            seen |= rows
        pid, year = keys[0]
        return StoreCorruptError(
            f"the score store {self.path} holds person {_scalar(pid)!r}, year {_scalar(year)!r} "
            f"and {len(keys.unique()) - 1} other transition(s) more than once (shards copied "
            f"in from another run, or written by two runs at once before stores were locked). "
            f"Delete these shards in {self.shards}, which repeat rows of earlier ones, and "
            f"score again: {', '.join(extra)}"
        )

    def write(
        self,
        index: pd.MultiIndex,
        prompts: Sequence[str],
        logq: np.ndarray,
        codes,
        extra: dict[str, np.ndarray] | None = None,
    ) -> Path:
        """Write one shard atomically (a temporary file renamed into place); `extra`
        columns (e.g. the pruning masses) follow the scores."""
        if self.kind == "simulated":
            raise ValueError("a 'simulated' store is written by write_prompts, not write")
        frame = pd.DataFrame(
            {
                "id": index.get_level_values(0),
                "time": index.get_level_values(1),
                _PROMPT_HASH: _prompt_hashes(prompts),
            }
        )
        scores = pd.DataFrame(np.asarray(logq, dtype=np.float64), columns=[str(c) for c in codes])
        return self._write_frame(pd.concat([frame, scores, pd.DataFrame(extra or {})], axis=1))

    def _write_frame(self, frame: pd.DataFrame) -> Path:
        path = self.shards / f"part-{uuid.uuid4().hex}.parquet"
        tmp = self.shards / f".tmp-{path.name}"
        frame.to_parquet(tmp, engine="pyarrow", index=False)
        os.replace(tmp, path)
        return path


def _read_metadata(path: Path) -> dict[str, Any]:
    """The store's metadata.json: a JSON object, or a clear error naming the file."""
    fix = f"delete the store {path.parent} and score again"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:  # ValueError: bad JSON or bytes that are not UTF-8
        raise StoreCorruptError(f"{path} cannot be read as JSON ({err}); {fix}") from err
    if not isinstance(meta, dict):
        raise StoreCorruptError(
            f"{path} holds a JSON {type(meta).__name__}, not the object a score store's "
            f"metadata is; {fix}"
        )
    wrong = [k for k in ("taxonomy", "template") if not isinstance(meta.get(k), dict)]
    if wrong:
        raise StoreCorruptError(f"{path} lacks the {' and '.join(wrong)} of its scores; {fix}")
    return meta


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
    written = panel
    if "titles" in stored:  # scored with other titles (the checkpoint's) for the same codes
        by_repr = {repr(c): c for c in panel.taxonomy.codes}
        known = {by_repr[c]: t for c, t in stored["titles"] if c in by_repr}
        if len(known) == len(panel.taxonomy):
            written = panel.with_taxonomy(panel.taxonomy.with_titles(known))
    if stored.get("sha256") != taxonomy_hash(written.taxonomy):
        raise StoreMismatchError(
            f"the score store {db.path} was scored on taxonomy {stored.get('name')!r} "
            f"({stored.get('size')} codes), not the panel's {panel.taxonomy.name!r} "
            f"({len(panel.taxonomy)} codes) or a changed copy of it"
        )
    template = ResumeTemplate.coerce(meta["template"])
    prompts = template.prompts(written, include_first=include_first)
    frame = _select(db, db.read(), prompts.index, prompts, list(panel.taxonomy.codes))
    return frame, meta
