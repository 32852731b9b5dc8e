"""``labor-econ compare``: saved results (from ``fit`` or ``save()``) compared on a panel."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from .changes import check_by, write_changes
from .data import (
    UsageError,
    add_panel_arguments,
    check_data_path,
    load_results,
    panel_from_args,
    seed_argument,
)
from .outdir import prepare_out_dir
from .outputs import Progress, write_comparison, write_diagnostics, write_manifest

__all__ = ["add_parser", "evaluation_panel", "parse_results", "run_compare"]

EXAMPLES = """\
examples:
  labor-econ compare nlsy79.dta --id caseid --time year --occupation occ1990 \\
      --static educ black female --birth-year birth_year --missing drop \\
      --results Markov=results/results_markov.zip MNLogit=results/results_mnlogit.zip \\
      --test-size 0.2 --seed 0 --out comparison

  With the --test-size and --seed of a `labor-econ fit` run on the same DATA, the models are
  compared on that run's test persons (the table equals fit's); without them, on every
  person of DATA. Marginal, Markov, MNLogit and pooled results need no LM. An LLM result
  predicts its own estimation sample, and any panel whose scores are in the score store it
  was fitted with (fit's --out/scores holds its train and test persons); another panel
  needs that panel's scores (labor-econ score, or LLMModel.from_scores), and
  compare fails with that message.

  With --by VAR (a declared covariate, gap, prev_occupation, or cohort with --birth-year),
  the occupation-change evaluations per group are printed under the table and written to
  changes.txt/.csv, e.g. --by black.

outputs (in --out): comparison.txt/.tex/.html, diagnostics.txt/.json (Vuong and Clarke
tests of every pair, encompassing tests in a log-linear pool), changes.txt/.csv (with --by),
manifest.json.
exit codes: 0 done, 1 failed (bad data, a file that is not saved results), 2 bad arguments
(a malformed NAME=PATH, a results file that does not exist, a --by that is no declared
covariate).
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``compare`` sub-command to the parsers of ``main``."""
    p = sub.add_parser(
        "compare",
        help="compare saved results (from fit or save()) on a .dta/.csv/.parquet panel",
        description="Load saved results and compare them on the transitions of DATA: the "
        "comparison table and the pairwise tests, written as fit writes them.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_panel_arguments(p)
    p.add_argument(
        "--results",
        nargs="+",
        required=True,
        metavar="NAME=PATH",
        help="saved results and their column names in the table, in column order",
    )
    p.add_argument(
        "--test-size",
        type=float,
        default=None,
        help="compare on the test persons of fit's split with this --test-size and --seed "
        "(default: every person of DATA)",
    )
    p.add_argument(
        "--seed", type=seed_argument, default=0, help="seed of the person split (with --test-size)"
    )
    p.add_argument(
        "--by",
        default=None,
        metavar="VAR",
        help="also compare stay/move, labor-force entry/exit and movers' accuracy by VAR (a "
        "declared covariate, gap, prev_occupation, or cohort): under the table in "
        "comparison.txt, and in changes.txt/.csv",
    )
    p.add_argument("--out", type=Path, required=True, help="output folder, new or empty")
    p.add_argument("--overwrite", action="store_true", help="allow a non-empty --out")
    return p


def parse_results(entries: list[str]) -> dict[str, Path]:
    """``NAME=PATH`` entries as {name: path}; malformed, repeated or absent ones raise."""
    named: dict[str, Path] = {}
    for entry in entries:
        name, sep, path = entry.partition("=")
        name, path = name.strip(), path.strip()
        if not sep or not name or not path:
            raise UsageError(
                f"--results {entry!r}: expected NAME=PATH, e.g. Markov=results/results_markov.zip"
            )
        if name in named:
            raise UsageError(f"--results names {name!r} twice")
        file = Path(path)
        if not file.is_file():
            raise UsageError(f"--results {name}={file}: no such file")
        named[name] = file
    return named


def _declared(panel: Any) -> tuple[tuple, pd.DataFrame]:
    """A panel's declaration and the columns it declares (what a model's scores depend on)."""
    names = (panel.id, panel.time, panel.occupation, panel.birth_year)
    columns = [c for c in (*names, *panel.static, *panel.varying) if c is not None]
    spec = (*names, tuple(panel.static), tuple(panel.varying), panel.taxonomy)
    return spec, panel.data[columns].reset_index(drop=True)


def evaluation_panel(panel: Any, models: dict[str, Any]) -> Any:
    """``panel``, or a loaded result's own estimation sample if ``panel`` holds the same data.

    An LLM result holds its scores for its estimation sample only and knows that sample by
    identity; comparing on that very object lets it evaluate its sample without an LM.
    """
    spec, data = _declared(panel)
    for results in models.values():
        other_spec, other_data = _declared(results.panel)
        if other_spec == spec and data.equals(other_data):
            return results.panel
    return panel


def run_compare(args: argparse.Namespace, log: TextIO | None) -> int:
    """Run ``labor-econ compare``; raises UsageError for bad arguments, others for failures."""
    from ..diagnostics import compare

    paths = parse_results(args.results)
    if args.test_size is not None and not 0 < args.test_size < 1:
        raise UsageError(f"--test-size must be in (0, 1), got {args.test_size}")
    check_data_path(args.data)
    out = prepare_out_dir(  # before any work
        args.out, overwrite=args.overwrite, inputs=[args.data, *paths.values()]
    )
    say = Progress(log)
    models = {}
    for name, path in paths.items():
        say(f"loading {name} from {path} ...")
        models[name] = load_results(path, f"--results {name}={path}")
    say(f"reading {args.data} ...")
    panel = data = panel_from_args(args, log)
    say(f"{panel!r}")
    check_by(panel, args.by)
    if args.test_size is not None:
        _, panel = data.split(test_size=args.test_size, seed=args.seed)
        say(f"the test persons of the split (seed {args.seed}): {panel.n_persons} persons")
    panel = evaluation_panel(panel, models)
    say(f"comparing on {panel.n_transitions} transitions ...")
    files: dict[str, str] = {}
    comparison = compare(models, panel, by=args.by)
    write_comparison(out, comparison, files)
    write_diagnostics(out, models, panel, say, files)
    if args.by is not None:
        write_changes(out, comparison.changes, files)
    write_manifest(
        out,
        "compare",
        say,
        data=str(args.data),
        panel=repr(panel),
        dropped_waves=len(data.dropped),
        test_size=args.test_size,
        seed=args.seed if args.test_size is not None else None,
        by=args.by,
        models=list(models),
        results={name: str(path) for name, path in paths.items()},
        files=files,
    )
    say(f"wrote {len(files) + 1} files to {out}")
    print((out / "comparison.txt").read_text())
    return 0
