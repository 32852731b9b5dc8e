"""Count the LM scorings of an LLM simulation against independent scoring (issue 25's target).

The demo's tiny Llama (``labor_econ.demo.demo_lm``, trained on the wage panel's training
persons) is the LLM model (its own probabilities, ``fit()``); each person of ``--persons``
(the held-out test persons by default, or the first training persons) is simulated
``--draws`` times ``--horizon`` years ahead. Draws whose simulated histories are identical so
far share one scoring; printed are the distinct states per year, their share of the
``draws x horizon x persons`` independent scorings, and the second run's reads from the score
store. The LM is fed each person's shared resume prefix (header and observed waves) once per
step (``CandidateScorer.score_prefixed``); printed are the tokens fed, what feeding the same
prompts whole would feed, and what independent scoring would feed (every draw's prompt whole
with its candidate trie, every year: a third run that records each state and its draws).

Run: ``python benchmarks/bench_llm_simulation.py [--draws 100] [--horizon 5]
[--persons test|train] [--n 109]``.

Measured on 2 CPU cores (torch 2.13, transformers 5.25, 2026-12-03), 100 draws x 5 years:

- Distinct simulated histories (one K-way scoring each): the 109 test persons 19,527 of the
  54,500 independent scorings (35.8%; 131 more prompts identical to another person's); the
  first 10 test persons 1,993 of 5,000 (39.9%); the first 109 training persons 19,955 of
  54,500 (36.6%). Their number is set by the model's mobility (42% of the wage panel's
  transitions change occupation), not by the code.
- Tokens fed, the cost: with each person's shared prefix fed once per step, the 109 test
  persons take 1,108,027 tokens against 2,725,740 for the same 19,388 prompts fed whole
  (40.7%) and 7,239,237 for the 54,500 independent scorings: **15.3%** (issue 25's target,
  at most a third, is met); 29 s for the first run (36 s feeding whole prompts). The first
  10 test persons: 113,325 against 283,622 (40.0%) and 670,144 independent (16.9%).
- Rerun on the same store: 0 scored, every prompt read from the store (1.0 s for 10
  persons instead of 3.4 s).
"""

import argparse
import tempfile
import time
import warnings
from collections import Counter

from labor_econ import LLMModel
from labor_econ.datasets import wage_panel
from labor_econ.demo import demo_lm


def _recording(res):
    """Wrap ``res._step_proba`` to keep each step's states (person, simulated path) and
    the tokens scoring each state's prompt whole feeds (prompt and candidate tries)."""
    model, seen = res.model, []
    step = res._step_proba

    def wrapped(states):
        careers, rows = states.careers()
        if model.written_taxonomy != model.taxonomy:
            careers = careers.with_taxonomy(model.written_taxonomy)
        prompts = model.template.prompts(careers).loc[rows].tolist()
        plans = model.scorer._plan(prompts, model.candidates, model.template.wave_starts(prompts))
        whole = [len(ids) + sum(len(t.inner) for t, _ in parts) for ids, parts in plans]
        seen.append((states.person.copy(), states.history.copy(), whole))
        return step(states)

    res._step_proba = wrapped
    return seen


def _independent_tokens(seen, kept) -> int:
    """Tokens of scoring every draw's prompt whole at every step: each state's whole-prompt
    tokens times the draws in that state (their paths read from the kept draws)."""
    draws = Counter()
    for h in range(kept.shape[1]):
        for p in range(kept.shape[2]):
            draws.update((h, p, tuple(path)) for path in kept[:, :h, p].tolist())
    total = covered = 0
    for person, history, whole in seen:
        h = history.shape[1]
        for p, path, tokens in zip(person.tolist(), history.tolist(), whole, strict=True):
            n = draws[h, p, tuple(path)]
            total += n * tokens
            covered += n
    assert covered == kept.shape[0] * kept.shape[1] * kept.shape[2], "states do not cover draws"
    return total


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
            if run == "first run":
                counts = sim.lm_scorings
                print(
                    f"  tokens fed {counts.tokens_fed:,} (shared prefixes) vs "
                    f"{counts.tokens_whole:,} feeding the same prompts whole "
                    f"({counts.tokens_fed / counts.tokens_whole:.1%})"
                )
        # Independent scoring's tokens: the same run again (no store), every state recorded
        # with its whole-prompt tokens and weighted by its draws (the kept paths).
        again = LLMModel(panel, lm).fit()
        seen = _recording(again)
        sim = again.simulate(
            panel, horizon=args.horizon, n_draws=args.draws, seed=0, keep_draws=args.draws
        )
        tokens = _independent_tokens(seen, sim.kept)
        fed = sim.lm_scorings.tokens_fed
        print(
            f"tokens fed {fed:,} vs {tokens:,} for {independent:,} independent scorings, each "
            f"prompt whole with its trie ({fed / tokens:.1%}; target: at most a third)"
        )


if __name__ == "__main__":
    main()
