"""Run `score_panel` in a child process: for the store's kill-and-resume and torchrun tests.

Usage: python tests/score_panel_worker.py CHECKPOINT STORE OUT [--persons N] [--shard S]
[--sleep SECONDS]. Scores a simulated panel into STORE and, on rank 0, writes the table to OUT
(Parquet). ``--sleep`` slows each scorer call so that a test can kill the run midway.
"""

from __future__ import annotations

import argparse
import time

import torch

from labor_econ.datasets import simulate_panel
from labor_econ.lm import CandidateScorer, load_lm, score_panel


def panel(persons: int):
    return simulate_panel(persons, years=list(range(1990, 1996)), seed=1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint")
    parser.add_argument("store")
    parser.add_argument("out")
    parser.add_argument("--persons", type=int, default=8)
    parser.add_argument("--shard", type=int, default=5)
    parser.add_argument("--sleep", type=float, default=0.0)
    args = parser.parse_args()
    torch.set_num_threads(1)  # the same kernels in every process, for bitwise equal scores
    lm = load_lm(args.checkpoint, device="cpu")
    scorer = CandidateScorer(lm, progress=False)
    if args.sleep:
        score = scorer.score

        def slow(*a, **k):
            time.sleep(args.sleep)
            return score(*a, **k)

        scorer.score = slow
    table = score_panel(
        lm, panel(args.persons), template="labor_llm", store=args.store, scorer=scorer,
        shard_transitions=args.shard, progress=False,
    )  # fmt: skip
    import torch.distributed as dist

    if not dist.is_initialized() or dist.get_rank() == 0:
        table.columns = table.columns.astype(str)
        table.to_parquet(args.out)


if __name__ == "__main__":
    main()
