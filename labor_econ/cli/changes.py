"""``--by VAR`` of ``labor-econ fit`` and ``compare``: the occupation-change evaluations of the
models, by group."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["check_by", "write_changes"]


def write_changes(out: Path, evaluation: Any, files: dict[str, str]) -> None:
    """``changes.txt`` and ``changes.csv``: a
    :class:`~labor_econ.models.changes.ChangeEvaluation` (stay/move, labor-force entry/exit
    and movers' accuracy of every model, by group; the comparison's ``changes``), written
    out; names added to ``files``."""
    (out / "changes.txt").write_text(str(evaluation) + "\n")
    evaluation.frame.to_csv(out / "changes.csv")
    files["changes_text"], files["changes_csv"] = "changes.txt", "changes.csv"


def check_by(panel: Any, by: str | None) -> None:
    """Refuse a ``--by`` that is no grouping of the panel's transitions, before any work."""
    from .data import UsageError

    allowed = [*panel.covariates, "gap", "prev_occupation"]
    allowed += ["cohort"] if panel.birth_year else []
    if by is not None and by not in allowed:
        raise UsageError(
            f"--by {by!r}: not a declared covariate of the panel; choose among {allowed} "
            "(declare covariates with --static, --varying or --birth-year)"
        )
