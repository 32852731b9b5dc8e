"""``labor-econ score``: LLM scores of every transition into a score store (torchrun-ready)."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any, TextIO

from .data import UsageError, add_panel_arguments, check_data_path, panel_from_args
from .outdir import prepare_out_dir
from .template_arg import add_template_argument, template_arg

__all__ = ["add_parser", "run_score"]

EXAMPLES = """\
examples:
  labor-econ score nlsy79.dta --id caseid --time year --occupation occ1990 \\
      --birth-year birth_year --missing drop --lm tianyudu/LABOR_LLM \\
      --subfolder ft_7b_NLSY79_with_birth_year_ckpt_bo5 --store scores
  torchrun --nproc_per_node=4 -m labor_econ.cli score nlsy79.dta ... --store scores

The store is a folder of Parquet shards: a killed run resumes where it stopped when run
again with the same --store; several processes (torchrun) share the work. Read it back
with LLMModel.from_store.
exit codes: 0 done, 1 failed, 2 bad arguments.
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``score`` sub-command to the parsers of ``main``."""
    p = sub.add_parser(
        "score",
        help="score every transition with an LLM into a score store (runs under torchrun)",
        description="Write log q of every occupation for every transition of DATA into a "
        "score store.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_panel_arguments(p)
    p.add_argument("--lm", required=True, help="checkpoint directory or hub id")
    p.add_argument("--subfolder", default=None, help="subfolder of the checkpoint")
    add_template_argument(p)
    p.add_argument("--store", type=Path, required=True, help="score store folder (resumable)")
    p.add_argument(
        "--include-first", action="store_true", help="also score each person's first wave"
    )
    p.add_argument(
        "--shard-transitions", type=int, default=1024, help="transitions per store shard"
    )
    p.add_argument(
        "--allow-pickle",
        action="store_true",
        help="accept pickle weights (*.bin), which can run code: trusted sources only",
    )
    return p


def _device() -> str:
    """This process's GPU under torchrun (LOCAL_RANK), else automatic."""
    import torch

    local_rank = os.environ.get("LOCAL_RANK")
    if local_rank is not None and torch.cuda.is_available():
        return f"cuda:{int(local_rank)}"
    return "auto"


def run_score(args: argparse.Namespace, log: TextIO | None) -> int:
    """Run ``labor-econ score``; raises UsageError for bad arguments."""
    from ..lm.loading import load_lm
    from ..lm.panel_scores import score_panel

    if args.shard_transitions < 1:
        raise UsageError(f"--shard-transitions must be positive, got {args.shard_transitions}")
    template = template_arg(args.template)
    check_data_path(args.data)
    # an existing store is resumed; the data file may not be in it
    store = prepare_out_dir(args.store, overwrite=True, inputs=[args.data])
    start = time.perf_counter()

    def say(text: str) -> None:
        if log is not None:
            print(f"[{time.perf_counter() - start:7.1f}s] {text}", file=log, flush=True)

    say(f"reading {args.data} ...")
    panel = panel_from_args(args, log)
    say(f"{panel!r}")
    say(f"loading the LM {args.lm} ...")
    lm = load_lm(
        args.lm, subfolder=args.subfolder, device=_device(), allow_pickle=args.allow_pickle
    )
    say(f"scoring into {store} ...")
    logq = score_panel(
        lm,
        panel,
        template=template,
        store=Path(store),
        include_first=args.include_first,
        shard_transitions=args.shard_transitions,
        progress=log is not None,
    )
    say(f"{len(logq)} transitions x {logq.shape[1]} occupations in {store}")
    return 0
