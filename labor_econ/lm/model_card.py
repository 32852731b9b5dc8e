"""What a fine-tuned checkpoint keeps next to its weights: template, taxonomy and a model card."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from ..panel import CareerPanel
    from ..taxonomy import Taxonomy
    from ..templates import ResumeTemplate

__all__ = ["README_FILE", "TAXONOMY_FILE", "TEMPLATE_FILE", "read_format", "write_checkpoint_files"]

TEMPLATE_FILE = "labor_econ_template.json"
"""The resume template the checkpoint was trained on (``ResumeTemplate.save``)."""
TAXONOMY_FILE = "labor_econ_taxonomy.csv"
"""The taxonomy of the training panel: columns ``code``, ``title``, ``special``."""
README_FILE = "README.md"
"""The model card."""

_INT = re.compile(r"-?(0|[1-9][0-9]*)")


def write_checkpoint_files(
    directory: str | os.PathLike[str],
    *,
    base_model: str,
    template: ResumeTemplate,
    train: CareerPanel,
    val: CareerPanel | None,
    epochs: int,
    method: str,
    learning_rate: float,
    loss_on: str,
    log_history: list[dict[str, Any]],
    best_checkpoint: str | None,
) -> None:
    """Write the template (JSON), the taxonomy (CSV) and the model card next to the weights.

    Parameters
    ----------
    directory : path-like
        The checkpoint directory (``output_dir/best`` of :func:`labor_econ.finetune`).
    base_model : str
        Name of the model fine-tuning started from.
    template : ResumeTemplate
        The training template.
    train, val : CareerPanel
        Training and validation persons.
    epochs : int
        Scheduled epochs.
    method, learning_rate, loss_on
        The fine-tuning settings, for the card.
    log_history : list of dict
        The Trainer's ``state.log_history`` (losses per epoch).
    best_checkpoint : str, optional
        The Trainer's ``state.best_model_checkpoint`` (None without validation).
    """
    directory = Path(directory)
    template.save(directory / TEMPLATE_FILE)
    train.taxonomy.to_frame().to_csv(directory / TAXONOMY_FILE, index=False)
    history = _epoch_history(log_history)
    best = _best_epoch(history, log_history, best_checkpoint, epochs)
    card = _card(base_model, template, train, val, epochs, method, learning_rate, loss_on)
    card += "\n" + _history_section(history, best)
    (directory / README_FILE).write_text(card, encoding="utf-8")


def read_format(
    source: str, *, subfolder: str | None, revision: str | None, local: bool
) -> tuple[ResumeTemplate | None, Taxonomy | None]:
    """The template and taxonomy saved with a checkpoint, None for each file that is absent.

    Local directories are read directly; for a Hugging Face Hub repository the files are
    fetched (or read from the local cache when offline) next to the weights.
    """
    from ..templates import ResumeTemplate

    template_path = _find(source, TEMPLATE_FILE, subfolder, revision, local)
    taxonomy_path = _find(source, TAXONOMY_FILE, subfolder, revision, local)
    template = ResumeTemplate.load(template_path) if template_path else None
    taxonomy = _read_taxonomy(taxonomy_path) if taxonomy_path else None
    return template, taxonomy


def _find(
    source: str, filename: str, subfolder: str | None, revision: str | None, local: bool
) -> Path | None:
    if local:
        path = Path(source).expanduser() / (subfolder or "") / filename
        return path if path.is_file() else None
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

    try:
        return Path(hf_hub_download(source, filename, subfolder=subfolder, revision=revision))
    except (EntryNotFoundError, LocalEntryNotFoundError):
        return None


def _read_taxonomy(path: Path) -> Taxonomy:
    """Read the CSV written by `write_checkpoint_files`.

    Codes are read back as integers when every code is written as a canonical integer
    (``12``, not ``012``), else as strings, so both kinds of code survive the round trip.
    """
    from ..taxonomy import Taxonomy, TaxonomyError

    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in ("code", "title", "special") if c not in frame.columns]
    if missing:
        raise TaxonomyError(f"{path}: missing column(s) {missing}; found {list(frame.columns)}")
    codes: list[Any] = frame["code"].tolist()
    if all(_INT.fullmatch(c) for c in codes):
        codes = [int(c) for c in codes]
    special = [c for c, s in zip(codes, frame["special"], strict=True) if s == "True"]
    return Taxonomy(
        codes, frame["title"].tolist(), name=f"{path.parent.name} taxonomy", special=special
    )


def _epoch_history(log_history: list[dict[str, Any]]) -> pd.DataFrame:
    """Training and validation loss per epoch, from the Trainer's log history."""
    rows: dict[int, dict[str, Any]] = {}
    for entry in log_history:
        if "epoch" not in entry:
            continue
        epoch = round(float(entry["epoch"]))
        row = rows.setdefault(epoch, {"epoch": epoch, "step": entry.get("step")})
        if "loss" in entry:
            row["training loss"] = float(entry["loss"])
        if "eval_loss" in entry:
            row["validation loss"] = float(entry["eval_loss"])
            row["step"] = entry.get("step")
    frame = pd.DataFrame(list(rows.values()))
    return frame.sort_values("epoch").reset_index(drop=True) if len(frame) else frame


def _best_epoch(
    history: pd.DataFrame,
    log_history: list[dict[str, Any]],
    best_checkpoint: str | None,
    epochs: int,
) -> int:
    """The epoch whose weights were kept: the best validation loss, else the last epoch."""
    if best_checkpoint:
        match = re.search(r"checkpoint-(\d+)$", str(best_checkpoint).rstrip("/"))
        if match and "step" in history:
            step = int(match.group(1))
            at = history.loc[history["step"] == step, "epoch"]
            if len(at):
                return int(at.iloc[0])
    return epochs


def _panel_line(panel: CareerPanel) -> str:
    times = panel.times
    return (
        f"{panel.n_persons:,} persons, {panel.n_transitions:,} transitions "
        f"({panel.n_obs:,} waves), years {times.min()}-{times.max()}, "
        f"K = {len(panel.taxonomy)} occupations (taxonomy {panel.taxonomy.name!r})"
    )


def _card(
    base_model: str,
    template: ResumeTemplate,
    train: CareerPanel,
    val: CareerPanel | None,
    epochs: int,
    method: str,
    learning_rate: float,
    loss_on: str,
) -> str:
    example = template.render(train, train.persons[0])
    lines = [
        "---",
        "library_name: transformers",
        "tags:",
        "- labor_econ",
        "- career-model",
        "---",
        "",
        "# Career language model fine-tuned with labor_econ",
        "",
        f"- **Base model:** `{base_model}`",
        f"- **Training panel:** {_panel_line(train)}",
        f"- **Validation panel:** {_panel_line(val) if val is not None else 'none'}",
        f"- **Fine-tuning:** {method}, learning rate {learning_rate:g}, loss on {loss_on} "
        f"tokens, {epochs} epochs scheduled",
        f"- **Template:** `{template.name}` (`{TEMPLATE_FILE}`); taxonomy in `{TAXONOMY_FILE}`",
        "",
        "## Use",
        "",
        "```python",
        "import labor_econ as le",
        "",
        'lm = le.load_lm("path/to/this/directory")',
        "lm.template, lm.taxonomy  # the training format, read from the files above",
        "results = le.LLMModel(panel, lm).fit()  # scores with lm.template",
        "```",
        "",
        "## Resume template",
        "",
        "```json",
        json.dumps(template.to_dict(), indent=2),
        "```",
        "",
        "The first training resume:",
        "",
        "```text",
        example,
        "```",
        "",
    ]
    return "\n".join(lines)


def _history_section(history: pd.DataFrame, best: int) -> str:
    lines = ["## Training history", "", f"Kept: the weights after epoch {best}.", ""]
    if len(history):
        cols = [c for c in ("epoch", "training loss", "validation loss") if c in history]
        lines.append("| " + " | ".join(cols) + " |")
        lines.append("|" + "---|" * len(cols))
        for _, row in history.iterrows():
            cells = [
                f"{int(row[c])}" if c == "epoch" else (f"{row[c]:.4f}" if pd.notna(row[c]) else "")
                for c in cols
            ]
            lines.append(
                "| " + " | ".join(cells) + (" (kept)" if row["epoch"] == best else "") + " |"
            )
    return "\n".join(lines) + "\n"
