"""The ``labor-econ`` command line."""

from __future__ import annotations

import argparse
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
    from .datasets import wage_panel

    print(f"wage panel    {wage_panel()!r}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``labor-econ`` console script."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="labor-econ",
        description="Occupational-transition models: LLM checkpoints beside MNLogit and Markov.",
    )
    parser.add_argument("--version", action="version", version=f"labor-econ {__version__}")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("info", help="print package versions and whether a GPU is visible")
    args = parser.parse_args(argv)
    if args.command == "info":
        return _info()
    parser.print_help()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
