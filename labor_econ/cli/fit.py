"""``labor-econ fit``: fit baselines (and an LLM) on a data file and write every output."""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any, TextIO

from ..models.llm import CALIBRATION_PERSONS, calibration_panel
from .data import (
    UsageError,
    add_panel_arguments,
    check_data_path,
    panel_from_args,
    seed_argument,
)
from .outdir import prepare_out_dir
from .outputs import Progress, write_comparison, write_diagnostics, write_manifest
from .template_arg import add_template_argument, template_arg

__all__ = ["MODELS", "add_parser", "run_fit"]

#: Above this many outcome codes (in the train transitions) the MNLogit is fit as the ridge
#: unless ``--mnlogit-penalty`` says otherwise: at NLSY scale (389 codes) the maximum
#: likelihood does not exist and ``fit()`` raises NoMaximumError.
RIDGE_ABOVE = 100
#: The ridge penalty used by default above :data:`RIDGE_ABOVE` codes.
DEFAULT_RIDGE = 1.0

#: Model keys of ``--models`` and their column names in the comparison.
MODELS = {"marginal": "Marginal", "markov": "Markov", "mnlogit": "MNLogit", "llm": "LLM"}

EXAMPLES = """\
examples:
  labor-econ fit nlsy79.dta --id caseid --time year --occupation occ1990 \\
      --static educ black female --birth-year birth_year --missing drop \\
      --models marginal,markov,mnlogit --out results
  labor-econ fit careers.csv --id pid --time year --occupation occ \\
      --models markov,llm --lm ./my_checkpoint --calibrate --out results

outputs (in --out): comparison.txt/.tex/.html, diagnostics.txt/.json, one
predictions_<model>.dta per model (test persons, integer codes with value labels),
results_<model>.txt (summary), results_<model>.zip (the saved results, for
labor-econ compare and TransitionResults.load), scores/ (with llm: the LM's score
store, train and test persons, so that compare needs no LM), manifest.json (every file,
timings).
exit codes: 0 done, 1 failed (bad data, a model that cannot be fitted), 2 bad arguments.
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``fit`` sub-command to the parsers of ``main``."""
    p = sub.add_parser(
        "fit",
        help="fit models on a .dta/.csv/.parquet panel and write comparison, tests, predictions",
        description="Split the persons of DATA into train and test, fit the chosen models on "
        "the train persons and compare them on the test persons.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_panel_arguments(p)
    p.add_argument(
        "--models",
        default="marginal,markov,mnlogit",
        help=f"comma-separated, from {','.join(MODELS)} (default marginal,markov,mnlogit)",
    )
    p.add_argument(
        "--mnlogit-penalty",
        type=float,
        default=None,
        metavar="P",
        help="ridge penalty of the MNLogit; 0 is maximum likelihood. Default: the ridge "
        f"with P = 1 above {RIDGE_ABOVE} occupation codes in the train persons' transitions "
        "(the maximum likelihood usually does not exist there), maximum likelihood otherwise",
    )
    p.add_argument("--lm", default=None, help="checkpoint directory or hub id (for llm)")
    p.add_argument("--subfolder", default=None, help="subfolder of the checkpoint")
    add_template_argument(p)
    p.add_argument(
        "--calibrate",
        action="store_true",
        help="with llm: estimate its scale and stay (default: the checkpoint's own "
        "probabilities, renormalized over the codes)",
    )
    p.add_argument(
        "--calibration-persons",
        type=_persons,
        default=None,
        metavar="N|all",
        help="with llm: the training persons it is scored on for its fit, a seeded subsample "
        f"(seed --seed; default {CALIBRATION_PERSONS}, enough for two parameters: see "
        "docs/tutorials/scaling.md); 'all' scores every training person",
    )
    p.add_argument(
        "--by",
        default=None,
        metavar="VAR",
        help="also compare stay/move, labor-force entry/exit and movers' accuracy on the "
        "test persons by VAR (a covariate, gap, or cohort): under the table in "
        "comparison.txt, and in changes.txt/.csv",
    )
    p.add_argument("--test-size", type=float, default=0.2, help="share of test persons")
    p.add_argument("--seed", type=seed_argument, default=0, help="seed of the person split")
    p.add_argument("--out", type=Path, required=True, help="output folder, new or empty")
    p.add_argument("--overwrite", action="store_true", help="allow a non-empty --out")
    return p


def _persons(text: str) -> int | str:
    """``--calibration-persons``: a positive int or ``all``."""
    if text == "all":
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"a positive number of persons or 'all', not {text!r}")
    return value


def _models(
    text: str, lm: str | None, calibrate: bool = False, persons: int | str | None = None
) -> list[str]:
    keys = [k.strip().lower() for k in text.split(",") if k.strip()]
    unknown = [k for k in keys if k not in MODELS]
    if unknown or not keys:
        raise UsageError(
            f"--models {text!r}: unknown model(s) {unknown}; choose from {list(MODELS)}"
        )
    if len(set(keys)) != len(keys):
        raise UsageError(f"--models {text!r} names a model twice")
    if ("llm" in keys) != (lm is not None):
        raise UsageError("--lm is needed with the llm model, and only then")
    if "llm" not in keys and (calibrate or persons is not None):
        raise UsageError("--calibrate and --calibration-persons are options of the llm model")
    return keys


def _fit_one(key: str, train: Any, args: argparse.Namespace, say: Progress, out: Path) -> Any:
    from ..models import LLMModel, MarginalModel, MarkovModel

    if key == "marginal":
        return MarginalModel(train).fit()
    if key == "markov":
        return MarkovModel(train).fit()
    if key == "mnlogit":
        return _fit_mnlogit(train, args, say)
    from ..lm.loading import load_lm

    say(f"loading the LM {args.lm} ...")
    lm = load_lm(args.lm, subfolder=args.subfolder)
    persons = args.calibration_persons or CALIBRATION_PERSONS
    sample = calibration_panel(train, persons, seed=args.seed)
    if sample is not train:
        say(
            f"the LLM is scored on a seeded subsample of {sample.n_persons} of the "
            f"{train.n_persons} training persons ({sample.n_transitions} transitions; "
            "--calibration-persons all for every one)"
        )
    # The scores go to a store in --out: the test persons' too (scored by the comparison),
    # so that `labor-econ compare` can evaluate the saved results on them without the LM.
    model = LLMModel(
        train if args.calibrate else sample,
        lm,
        template=args.template_obj,
        name="LLM",
        store=out / "scores",
    )
    if not args.calibrate:
        return model.fit()
    return model.fit(calibrate=True, calibration_persons=persons, seed=args.seed)


def _fit_mnlogit(train: Any, args: argparse.Namespace, say: Progress) -> Any:
    """The MNLogit: the penalty given, else the ridge above :data:`RIDGE_ABOVE` codes and
    maximum likelihood below, falling back to the ridge where that does not exist; the log
    says which (and ``args.mnlogit_penalty_used`` records it for the manifest)."""
    from ..models.mnlogit import MNLogitModel, NoMaximumError

    model = MNLogitModel(train)
    penalty = args.mnlogit_penalty
    n_codes = len(model.observed_codes)
    if penalty is None and n_codes > RIDGE_ABOVE:
        penalty = DEFAULT_RIDGE
        say(
            f"MNLogit: {n_codes} occupation codes (over {RIDGE_ABOVE}): fitting the ridge with "
            f"penalty {penalty:g} (fit_regularized); pass --mnlogit-penalty 0 for maximum "
            "likelihood"
        )
    # The progress bars go to stderr, as the rest of the log.
    if not penalty:
        try:
            args.mnlogit_penalty_used = 0.0
            return model.fit(progress=True)
        except NoMaximumError as err:
            if penalty is not None:  # maximum likelihood asked for: a failure (exit 1)
                raise
            penalty = DEFAULT_RIDGE
            say(
                f"MNLogit: {err} Fitting the ridge with penalty {penalty:g} instead "
                "(fit_regularized); --mnlogit-penalty 0 asks for maximum likelihood only"
            )
    args.mnlogit_penalty_used = penalty
    return model.fit_regularized(alpha=penalty, progress=True)


def run_fit(args: argparse.Namespace, log: TextIO | None) -> int:
    """Run ``labor-econ fit``; raises UsageError for bad arguments, other errors for failures."""
    from ..diagnostics import compare
    from ..stata import to_stata

    keys = _models(args.models, args.lm, args.calibrate, args.calibration_persons)
    if not 0 < args.test_size < 1:
        raise UsageError(f"--test-size must be in (0, 1), got {args.test_size}")
    if args.mnlogit_penalty is not None and not (
        math.isfinite(args.mnlogit_penalty) and args.mnlogit_penalty >= 0
    ):
        raise UsageError(f"--mnlogit-penalty must be a number >= 0, got {args.mnlogit_penalty}")
    args.template_obj = template_arg(args.template) if "llm" in keys else None
    check_data_path(args.data)
    out = prepare_out_dir(  # before any work
        args.out, overwrite=args.overwrite, inputs=[args.data, getattr(args, "lm", None)]
    )
    say = Progress(log)
    say(f"reading {args.data} ...")
    panel = panel_from_args(args, log)
    say(f"{panel!r}")
    if args.by is not None:
        from .changes import check_by

        check_by(panel, args.by)
    train, test = panel.split(test_size=args.test_size, seed=args.seed)
    say(f"split by person (seed {args.seed}): {train.n_persons} train, {test.n_persons} test")
    files: dict[str, str] = {}
    saved_results: dict[str, str] = {}
    timings: dict[str, float] = {}
    fitted: dict[str, Any] = {}
    for key in keys:
        name = MODELS[key]
        say(f"fitting {name} on {train.n_transitions} transitions ...")
        start = time.perf_counter()
        fitted[name] = _fit_one(key, train, args, say, out)
        timings[name] = round(time.perf_counter() - start, 3)
        say(f"fitted {name} in {timings[name]:.1f} s")

    say(f"comparing on the {test.n_transitions} test transitions ...")
    comparison = compare(fitted, test, by=args.by)
    write_comparison(out, comparison, files)
    write_diagnostics(out, fitted, test, say, files)
    if args.by is not None:
        from .changes import write_changes

        say(f"occupation-change evaluations by {args.by} ...")
        write_changes(out, comparison.changes, files)
    for key, (name, results) in zip(keys, fitted.items(), strict=True):
        say(f"writing predictions and results of {name} ...")
        path = out / f"predictions_{key}.dta"
        to_stata(results, path, test)
        files[f"predictions_{key}"] = path.name
        summary = out / f"results_{key}.txt"
        summary.write_text(str(results.summary()) + "\n")
        files[f"summary_{key}"] = summary.name
        saved = out / f"results_{key}.zip"
        results.save(saved)
        files[f"results_{key}"] = saved_results[name] = saved.name
    write_manifest(
        out,
        "fit",
        say,
        data=str(args.data),
        panel=repr(panel),
        dropped_waves=len(panel.dropped),
        train_persons=train.n_persons,
        test_persons=test.n_persons,
        models=list(fitted),
        **({"mnlogit_penalty": args.mnlogit_penalty_used} if "mnlogit" in keys else {}),
        fit_seconds=timings,
        files=files,
        saved_results=saved_results,
    )
    say(f"wrote {len(files) + 1} files to {out}")
    print((out / "comparison.txt").read_text())
    return 0
