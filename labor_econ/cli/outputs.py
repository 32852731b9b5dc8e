"""What ``fit`` and ``compare`` write to ``--out``: the comparison, the tests, the manifest."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any, TextIO

__all__ = ["Progress", "write_comparison", "write_diagnostics", "write_manifest"]


class Progress:
    """Timestamped progress lines on ``log`` (stderr), nothing when ``log`` is None."""

    def __init__(self, log: TextIO | None) -> None:
        self.log, self.start = log, time.perf_counter()

    def __call__(self, text: str) -> None:
        if self.log is not None:
            print(f"[{time.perf_counter() - self.start:7.1f}s] {text}", file=self.log, flush=True)


def write_comparison(out: Path, comparison: Any, files: dict[str, str]) -> None:
    """``comparison.txt``, ``.tex`` and ``.html``; their names are added to ``files``."""
    for kind, suffix, content in (
        ("comparison_text", "txt", str(comparison.summary()) + "\n"),
        ("comparison_latex", "tex", comparison.to_latex()),
        ("comparison_html", "html", comparison._repr_html_()),
    ):
        path = out / f"comparison.{suffix}"
        path.write_text(content)
        files[kind] = path.name


def _diagnostics(fitted: dict[str, Any], panel: Any, say: Progress) -> tuple[str, list[dict]]:
    """Vuong and Clarke tests of every pair, and encompassing tests in a log-linear pool."""
    from ..diagnostics import clarke_test, vuong_test
    from ..models import LogLinearPoolModel

    text, records = [], []

    def record(kind: str, names: list[str], fn: Any) -> None:
        label = f"{kind}: {' vs '.join(names)}"
        try:
            result = fn()
        except (ValueError, RuntimeError, ArithmeticError) as err:
            text.append(f"{label}\n  not applicable: {err}\n")
            records.append({"test": kind, "models": names, "error": str(err)})
            return
        text.append(f"{label}\n{result}\n")
        records.append(
            {
                "test": kind,
                "models": names,
                "statistic": float(result.statistic),
                "pvalue": float(result.pvalue),
                "conclusion": result.conclusion,
            }
        )

    for a, b in itertools.combinations(fitted, 2):
        say(f"Vuong and Clarke tests, {a} vs {b} ...")
        record("Vuong", [a, b], lambda a=a, b=b: vuong_test(fitted[a], fitted[b], panel))
        record("Clarke", [a, b], lambda a=a, b=b: clarke_test(fitted[a], fitted[b], panel))
    pooled = [n for n in fitted if n != "Marginal"]
    if len(pooled) >= 2:
        say(f"log-linear pool of {', '.join(pooled)} and encompassing tests ...")
        try:
            pool = LogLinearPoolModel(panel, {n: fitted[n] for n in pooled}).fit()
        except (ValueError, RuntimeError, ArithmeticError) as err:
            text.append(f"Encompassing tests\n  not applicable: {err}\n")
        else:
            for name in pooled:
                record("Encompassing", [name], lambda name=name: pool.encompassing_test(name))
    return "\n".join(text), records


def write_diagnostics(
    out: Path, fitted: dict[str, Any], panel: Any, say: Progress, files: dict[str, str]
) -> None:
    """``diagnostics.txt`` and ``.json`` for the models on ``panel``; names added to ``files``."""
    text, records = _diagnostics(fitted, panel, say) if len(fitted) > 1 else ("", [])
    (out / "diagnostics.txt").write_text(text or "one model: no pairwise tests\n")
    (out / "diagnostics.json").write_text(json.dumps(records, indent=2) + "\n")
    files["diagnostics_text"], files["diagnostics_json"] = "diagnostics.txt", "diagnostics.json"


def write_manifest(out: Path, command: str, say: Progress, **fields: Any) -> None:
    """``manifest.json``: the version, the command, ``fields`` (files, timings, ...)."""
    from .._version import __version__

    manifest = {"labor_econ": __version__, "command": command, **fields}
    manifest["seconds"] = round(time.perf_counter() - say.start, 3)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
