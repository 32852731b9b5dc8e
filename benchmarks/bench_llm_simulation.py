"""Count the LM scorings of an LLM simulation against independent scoring (issue 25's target).

The demo's tiny Llama (``labor_econ.demo.demo_lm``, trained on the wage panel's training
persons) is the LLM model (its own probabilities, ``fit()``); each person of ``--persons``
(the held-out test persons by default, or the first training persons) is simulated
``--draws`` times ``--horizon`` years ahead. Draws whose simulated histories are identical so
far share one scoring; printed are the distinct states per year, their share of the
``draws x horizon x persons`` independent scorings, and the second run's reads from the score
store.

Run: ``python benchmarks/bench_llm_simulation.py [--draws 100] [--horizon 5]
[--persons test|train] [--n 109]``.

Measured on 2 CPU cores (torch 2.13, transformers 5.25, 2026-12-03), 100 draws x 5 years:

- the 109 test persons: 19,527 of 54,500 scorings (35.8%; 131 more prompts identical to
  another person's), 36 s; the first 10 test persons: 1,993 of 5,000 (39.9%); the first
  109 training persons: 19,955 of 54,500 (36.6%). The target (a third) is not met: the
  count is the number of distinct simulated histories, which the model's mobility sets
  (42% of the wage panel's transitions change occupation).
- rerun on the same store: 0 scored, every prompt read from the store (1.0 s for 10
  persons instead of 3.4 s).
"""

import argparse
import tempfile
import time
import warnings

from labor_econ import LLMModel
from labor_econ.datasets import wage_panel
from labor_econ.demo import demo_lm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=100)
    parser.add_argument("--horizon", type=int, default=5)
    parser.add_argument("--persons", choices=["test", "train"], default="test")
    parser.add_argument("--n", type=int, default=None, help="the first n persons only")
    args = parser.parse_args()
    fit_panel, test = wage_panel().split(test_size=0.2, seed=0)
    train, val = fit_panel.split(test_size=0.1, seed=0)
    lm = demo_lm(train, val)
    panel = test if args.persons == "test" else train
    if args.n is not None:
        panel = panel.subset(panel.persons[: args.n])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tiny LM's low valid mass
        res = LLMModel(panel, lm, store=tempfile.mkdtemp()).fit()
        independent = args.draws * args.horizon * panel.n_persons
        for run in ("first run", "rerun on the store"):
            t0 = time.perf_counter()
            sim = res.simulate(
                panel, horizon=args.horizon, n_draws=args.draws, seed=0, keep_draws=0
            )
            total = int(sim.scorings.sum())
            print(
                f"{run}: {time.perf_counter() - t0:.1f} s; distinct states per year "
                f"{sim.scorings.tolist()}: {total:,} of {independent:,} independent scorings "
                f"({total / independent:.1%}); {sim.lm_scorings}"
            )


if __name__ == "__main__":
    main()
