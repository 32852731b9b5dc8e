"""Which run wrote a fine-tuning checkpoint: a fingerprint of its model, panels, template and
settings, saved in every checkpoint, so that a run resumes only its own checkpoints."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import LaborEconError
from ..panel import CareerPanel

__all__ = ["RUN_FILE", "RunMismatchError", "check_resumable", "clear_run", "run_fingerprint"]

#: File in every ``checkpoint-*`` folder (and ``best``) naming the run that wrote it.
RUN_FILE = "labor_econ_run.json"


class RunMismatchError(LaborEconError, ValueError):
    """An output folder holds checkpoints of another run; the message says what differs.

    Examples
    --------
    A run resumes only checkpoints it wrote itself (:func:`labor_econ.finetune` checks each
    with ``check_resumable``):

    >>> import os, tempfile
    >>> from labor_econ.lm import RunMismatchError
    >>> from labor_econ.lm.run_record import check_resumable
    >>> out = tempfile.mkdtemp()
    >>> checkpoint = os.path.join(out, "checkpoint-10")
    >>> os.mkdir(checkpoint)  # written by another program: no run fingerprint
    >>> try:
    ...     check_resumable(checkpoint, {"model": "demo"})
    ... except RunMismatchError as err:
    ...     print(str(err).replace(out, "out"))
    out...checkpoint-10 has no labor_econ_run.json: it was written by another program or an
    older labor_econ, so it cannot be told to be this run's. Choose another output_dir, or pass
    resume=False to delete the checkpoints in out and train from the start
    """


def _weights_digest(model: Any) -> str:
    """sha256 of every tensor's name, shape, dtype and first 64 values.

    Not the whole tensors: hashing 14 GB of a 7B model would take longer than a training
    step; the leading values of every tensor already tell a base model from a fine-tuned
    one (training moves all of them).
    """
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        head = tensor.detach().reshape(-1)[:64].float().cpu().numpy()
        digest.update(f"{name}|{tuple(tensor.shape)}|{tensor.dtype}|".encode())
        digest.update(head.tobytes())
    return digest.hexdigest()


def _panel_digest(panel: CareerPanel | None) -> dict[str, Any] | None:
    if panel is None:
        return None
    digest = hashlib.sha256()
    digest.update(pd.util.hash_pandas_object(panel.data, index=False).to_numpy().tobytes())
    roles = [panel.id, panel.time, panel.occupation, *panel.covariates]
    taxonomy = [list(map(str, panel.taxonomy.codes)), list(panel.taxonomy.titles)]
    digest.update(json.dumps([list(map(str, roles)), taxonomy]).encode())
    return {
        "persons": panel.n_persons,
        "transitions": panel.n_transitions,
        "sha256": digest.hexdigest(),
    }


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=repr, sort_keys=True))


def run_fingerprint(
    lm: Any,
    train: CareerPanel,
    val: CareerPanel | None,
    template: Any,
    settings: dict[str, Any],
) -> dict[str, Any]:
    """What makes two fine-tuning runs the same run: starting weights, panels, template and
    the settings that change the result (not progress bars or memory checks)."""
    return _jsonable(
        {
            "model": {"name": str(lm.name), "weights_sha256": _weights_digest(lm.model)},
            "train": _panel_digest(train),
            "val": _panel_digest(val),
            "template": template.to_dict(),
            "settings": settings,
        }
    )


def _differences(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        where = f"{prefix}{key}"
        if isinstance(a, dict) and isinstance(b, dict) and key not in ("train", "val"):
            out += _differences(a, b, f"{where}.")
        elif key in ("train", "val"):
            out.append(f"{where} panel ({_describe(a)} then, {_describe(b)} now)")
        elif where.endswith("sha256"):
            out.append(f"{where.rsplit('.', 1)[0]} (other starting weights)")
        else:
            out.append(f"{where} ({a!r} then, {b!r} now)")
    return out


def _describe(panel: dict[str, Any] | None) -> str:
    if panel is None:
        return "none"
    return (
        f"{panel['persons']} persons, {panel['transitions']} transitions, "
        f"sha256 {panel['sha256'][:12]}"
    )


def check_resumable(checkpoint: str | Path, fingerprint: dict[str, Any]) -> None:
    """Refuse to resume ``checkpoint`` unless the same run wrote it.

    Raises
    ------
    RunMismatchError
        If the checkpoint has no fingerprint or another one, naming what differs.
    """
    checkpoint = Path(checkpoint)
    fix = (
        f"Choose another output_dir, or pass resume=False to delete the checkpoints in "
        f"{checkpoint.parent} and train from the start"
    )
    try:
        old = json.loads((checkpoint / RUN_FILE).read_text())
    except FileNotFoundError:
        raise RunMismatchError(
            f"{checkpoint} has no {RUN_FILE}: it was written by another program or an older "
            f"labor_econ, so it cannot be told to be this run's. {fix}"
        ) from None
    except (OSError, ValueError) as err:
        raise RunMismatchError(f"{checkpoint / RUN_FILE} cannot be read ({err}). {fix}") from err
    if not isinstance(old, dict):
        raise RunMismatchError(f"{checkpoint / RUN_FILE} is not a run fingerprint. {fix}")
    differs = _differences(old, fingerprint)
    if differs:
        raise RunMismatchError(
            f"{checkpoint} was written by another run; it differs in: {'; '.join(differs)}. {fix}"
        )


def clear_run(output_dir: str | Path) -> list[Path]:
    """Delete the checkpoints (``checkpoint-*``) and ``best`` folder of a run in
    ``output_dir`` (nothing else); return what was deleted."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return []
    gone = sorted(p for p in output_dir.glob("checkpoint-*") if p.is_dir())
    if (output_dir / "best").is_dir():
        gone.append(output_dir / "best")
    for path in gone:
        shutil.rmtree(path)
    return gone


def write_fingerprint(folder: str | Path, fingerprint: dict[str, Any]) -> None:
    """Save ``fingerprint`` in ``folder`` (a checkpoint or ``best``)."""
    (Path(folder) / RUN_FILE).write_text(json.dumps(fingerprint, indent=1, sort_keys=True))
