"""The ``labor-econ`` command line."""

from __future__ import annotations

import argparse
import os
import platform
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

__all__ = ["main"]

_REPORTED = (
    "labor-econ",
    "torch",
    "transformers",
    "tokenizers",
    "statsmodels",
    "pandas",
    "numpy",
    "scipy",
)


def _info() -> int:
    """Print versions and the accelerator that torch can see."""
    print(f"python        {platform.python_version()} ({sys.executable})")
    for name in _REPORTED:
        try:
            v = version(name)
        except PackageNotFoundError:
            v = "not installed"
        print(f"{name:<13} {v}")
    import torch

    if torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        print(f"gpu           {len(names)} visible: {', '.join(names)}")
    else:
        print("gpu           none visible (CPU only)")
    from ..datasets import wage_panel

    print(f"wage panel    {wage_panel()!r}")
    return 0


def _parser() -> argparse.ArgumentParser:
    from .._version import __version__
    from . import compare, fit, score, simulate

    parser = argparse.ArgumentParser(
        prog="labor-econ",
        description="Occupational-transition models: LLM checkpoints beside MNLogit and Markov.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"labor-econ {__version__}")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("info", help="print package versions and whether a GPU is visible")
    fit.add_parser(sub)
    compare.add_parser(sub)
    score.add_parser(sub)
    simulate.add_parser(sub)
    demo = sub.add_parser(
        "demo",
        help="fine-tune a tiny LM on the NLSY wage panel and compare it with Markov and MNLogit",
    )
    demo.add_argument("--out", default="labor-econ-demo", help="folder for tables and plot")
    demo.add_argument("--overwrite", action="store_true", help="allow a non-empty --out")
    demo.add_argument(
        "--quick", action="store_true", help="a small, briefly trained model (smoke test)"
    )
    demo.add_argument(
        "--cache-dir",
        default=None,
        help="where the trained tiny LM is cached (default "
        "$LABOR_ECON_CACHE or ~/.cache/labor_econ)",
    )
    return parser


EXAMPLES = """\
examples:
  labor-econ fit nlsy79.dta --id caseid --time year --occupation occ1990 --missing drop \\
      --models marginal,markov,mnlogit --mnlogit-penalty 1 --out results
  labor-econ fit --help
  labor-econ compare nlsy79.dta --id caseid --time year --occupation occ1990 --missing drop \\
      --results Markov=results/results_markov.zip MNLogit=results/results_mnlogit.zip \\
      --test-size 0.2 --out comparison
  labor-econ score nlsy79.dta --id caseid --time year --occupation occ1990 \\
      --lm ./checkpoint --store scores
  labor-econ simulate nlsy79.dta --id caseid --time year --occupation occ1990 \\
      --results results/results_markov.zip --horizon 10 --out forecast
  labor-econ demo --quick --out demo
  labor-econ info

exit codes: 0 done, 1 failed, 2 bad arguments. Progress goes to stderr, tables to stdout.
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``labor-econ`` console script.

    Returns the exit code: 0 done, 1 failed (bad data, a model that cannot be fitted), 2
    bad arguments (unknown options, a missing file or variable, an unusable ``--out``).
    Errors are printed on stderr as ``labor-econ: error: <message>``, never as a traceback
    (set ``LABOR_ECON_TRACEBACK=1`` to see one for an unexpected error).
    """
    from ..errors import LaborEconError

    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse: --help, --version (0) or a bad argument (2)
        return int(exit_.code or 0)
    try:
        if args.command == "info":
            return _info()
        if args.command == "fit":
            from .fit import run_fit

            return run_fit(args, log=sys.stderr)
        if args.command == "compare":
            from .compare import run_compare

            return run_compare(args, log=sys.stderr)
        if args.command == "score":
            from .score import run_score

            return run_score(args, log=sys.stderr)
        if args.command == "simulate":
            from .simulate import run_simulate

            return run_simulate(args, log=sys.stderr)
        if args.command == "demo":
            from .demo import run_demo

            run_demo(
                args.out,
                quick=args.quick,
                cache_dir=args.cache_dir,
                overwrite=args.overwrite,
                log=sys.stdout,
            )
            return 0
    except LaborEconError as err:  # each error knows its exit code: 2 bad arguments, else 1
        print(f"labor-econ: error: {err}", file=sys.stderr)
        return err.exit_code
    except (ValueError, OSError) as err:
        print(f"labor-econ: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("labor-econ: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        # Bad input is reported above with what is wrong and where; anything reaching here
        # is a defect of labor_econ: one line, not a traceback, unless asked for.
        if os.environ.get("LABOR_ECON_TRACEBACK"):
            raise
        print(
            f"labor-econ: error: unexpected {type(err).__name__}: {err} (a bug in labor-econ; "
            "please report it, with the traceback that LABOR_ECON_TRACEBACK=1 shows)",
            file=sys.stderr,
        )
        return 1
    parser.print_help()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
