"""``labor-econ simulate``: saved results + a panel -> simulated careers and their shares."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, TextIO

from .data import (
    UsageError,
    add_panel_arguments,
    check_data_path,
    load_results,
    panel_from_args,
)
from .outdir import prepare_out_dir
from .outputs import Progress, write_manifest

__all__ = ["add_parser", "parse_set", "run_simulate"]

EXAMPLES = """\
examples:
  labor-econ simulate nlsy79.dta --id caseid --time year --occupation occ1990 \\
      --static educ black female --birth-year birth_year --missing drop \\
      --results results/results_mnlogit.zip --horizon 10 --draws 1000 --out forecast
  labor-econ simulate nlsy79.dta --id caseid --time year --occupation occ1990 \\
      --static educ black female --results results/results_mnlogit.zip \\
      --set female=0 --horizon 10 --out counterfactual

  Each person of DATA is continued from --start (default: the last year of DATA) with the
  saved model. --set simulates a counterfactual as well, with the same random numbers.
  A saved LLM result holds no LM: simulating it needs the Python API with the LM loaded,
  unless its score store holds every simulated resume (from an earlier run with the LM).

outputs (in --out): draws.dta or draws.parquet (the kept draws, long: draw, id, year,
occupation), shares.csv (share of each occupation by year, mean and interval across
draws), scorings.csv (model evaluations per year), with --set also
shares_counterfactual.csv and difference.csv (factual minus counterfactual), and
manifest.json.
exit codes: 0 done, 1 failed (bad data, results that cannot simulate), 2 bad arguments.
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``simulate`` sub-command to the parsers of ``main``."""
    p = sub.add_parser(
        "simulate",
        help="simulate careers ahead from saved results (forecasts and counterfactuals)",
        description="Load saved results and simulate every person of DATA --horizon waves "
        "ahead, --draws times; write the draws and the occupational shares by year.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_panel_arguments(p)
    p.add_argument("--results", type=Path, required=True, help="saved results (.zip)")
    p.add_argument("--start", type=int, default=None, help="last observed year used")
    p.add_argument("--horizon", type=int, default=10, help="simulated waves (default 10)")
    p.add_argument("--step", type=int, default=1, help="years between waves (default 1)")
    p.add_argument("--draws", type=int, default=1000, help="careers per person (default 1000)")
    p.add_argument("--keep-draws", type=int, default=100, help="draws written (default 100)")
    p.add_argument("--seed", type=int, default=0, help="seed of the draws")
    p.add_argument("--alpha", type=float, default=0.05, help="interval level (default 0.05)")
    p.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="VAR=VALUE",
        help="a counterfactual: covariates set for every person (numbers or text)",
    )
    p.add_argument(
        "--format", choices=("dta", "parquet"), default="dta", help="format of the draws"
    )
    p.add_argument("--out", type=Path, required=True, help="output folder, new or empty")
    p.add_argument("--overwrite", action="store_true", help="allow a non-empty --out")
    return p


def parse_set(entries: list[str]) -> dict[str, Any]:
    """``VAR=VALUE`` entries as a dict; values that read as numbers become numbers."""
    values: dict[str, Any] = {}
    for entry in entries:
        name, sep, text = entry.partition("=")
        name, text = name.strip(), text.strip()
        if not sep or not name or not text:
            raise UsageError(f"--set {entry!r}: expected VAR=VALUE, e.g. female=0")
        if name in values:
            raise UsageError(f"--set names {name!r} twice")
        try:
            value: Any = int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                value = text
        values[name] = value
    return values


def _write_draws(sim: Any, path: Path, kind: str) -> None:
    draws = sim.draws
    if kind == "parquet":
        draws.to_parquet(path, index=False)
        return
    frame = draws.copy()
    if frame["occupation"].dtype == object:
        try:
            frame["occupation"] = frame["occupation"].astype("int64")
        except (TypeError, ValueError):
            frame["occupation"] = frame["occupation"].astype(str)
    frame.to_stata(path, write_index=False, version=118)


def run_simulate(args: argparse.Namespace, log: TextIO | None) -> int:
    """Run ``labor-econ simulate``; raises UsageError for bad arguments."""
    from ..models.simulate import simulate

    if not args.results.is_file():
        raise UsageError(f"--results {args.results}: no such file")
    values = parse_set(args.set)
    for name in ("horizon", "draws", "step"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name} must be at least 1, got {getattr(args, name)}")
    if args.keep_draws < 0:
        raise UsageError(f"--keep-draws must be >= 0, got {args.keep_draws}")
    check_data_path(args.data)
    out = prepare_out_dir(args.out, overwrite=args.overwrite, inputs=[args.data, args.results])
    say = Progress(log)
    say(f"loading {args.results} ...")
    results = load_results(args.results, f"--results {args.results}")
    say(f"reading {args.data} ...")
    panel = panel_from_args(args, log)
    if args.data.suffix.lower() != ".dta":
        # a .csv or .parquet carries no taxonomy: the codes are read in the model's
        panel = panel.with_taxonomy(results.taxonomy)
    say(f"{panel!r}")
    options = {
        "start": args.start,
        "horizon": args.horizon,
        "n_draws": args.draws,
        "seed": args.seed,
        "step": args.step,
        "keep_draws": args.keep_draws,
    }
    say(f"simulating {args.draws} draws x {args.horizon} waves with {results.name} ...")
    sim = simulate(results, panel, progress=log is not None, **options)
    files: dict[str, str] = {}
    draws = out / f"draws.{args.format}"
    _write_draws(sim, draws, args.format)
    files["draws"] = draws.name
    sim.shares(args.alpha).to_csv(out / "shares.csv")
    files["shares"] = "shares.csv"
    sim.scorings.to_csv(out / "scorings.csv")
    files["scorings"] = "scorings.csv"
    if values:
        say(f"simulating the counterfactual {values} ...")
        other = simulate(results, panel, set=values, **options)
        other.shares(args.alpha).to_csv(out / "shares_counterfactual.csv")
        sim.difference(other, args.alpha).to_csv(out / "difference.csv")
        files["shares_counterfactual"] = "shares_counterfactual.csv"
        files["difference"] = "difference.csv"
    write_manifest(
        out,
        "simulate",
        say,
        data=str(args.data),
        results=str(args.results),
        model=results.name,
        persons=sim.n_persons,
        years=sim.years,
        set=json.loads(json.dumps(values, default=str)),
        scorings=[int(v) for v in sim.scorings],
        files=files,
        **{k: v for k, v in options.items() if k != "start"},
        start=sim.years[0] - args.step,
    )
    say(f"wrote {len(files) + 1} files to {out}")
    print(sim.shares(args.alpha).to_string(float_format=lambda v: f"{v:.4f}"))
    return 0
