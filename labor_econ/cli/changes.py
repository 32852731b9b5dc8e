"""``labor-econ fit --by VAR``: the occupation-change evaluations of the fitted models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["check_by", "write_changes"]


def write_changes(
    out: Path, fitted: dict[str, Any], panel: Any, by: str | None, files: dict[str, str]
) -> None:
    """``changes.txt`` and ``changes.csv``: stay/move, labor-force entry/exit and movers'
    accuracy of every model on ``panel``, by ``by`` (see
    :func:`labor_econ.diagnostics.evaluations.evaluate_changes`); names added to ``files``."""
    from ..diagnostics.evaluations import evaluate_changes

    evaluation = evaluate_changes(fitted, panel, by=by)
    (out / "changes.txt").write_text(str(evaluation) + "\n")
    evaluation.frame.to_csv(out / "changes.csv")
    files["changes_text"], files["changes_csv"] = "changes.txt", "changes.csv"


def check_by(panel: Any, by: str | None) -> None:
    """Refuse a ``--by`` that is no grouping of the panel's transitions, before any fit."""
    from .data import UsageError

    allowed = [*panel.covariates, "gap", "prev_occupation"]
    allowed += ["cohort"] if panel.birth_year else []
    if by is not None and by not in allowed:
        raise UsageError(
            f"--by {by!r}: not a declared covariate of the panel; choose among {allowed} "
            "(declare covariates with --static, --varying or --birth-year)"
        )
