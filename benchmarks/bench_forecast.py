"""Time career simulation at the issue's target: 1,000 draws x 10 years x 2,000 persons, K = 389.

The panel is simulated by :func:`labor_econ.datasets.simulate_panel` with the ``occ1990``
taxonomy (389 codes), 2,000 persons, interviews 1979-1990 (10% missed). The Markov model
(add-one) and the ridge MNLogit (``penalty=1``, ``"career"`` features, 40 L-BFGS iterations
by default: the simulation's cost does not depend on convergence, and a full fit takes
minutes) are fit on it; each then simulates 1,000 draws of every person 10 years ahead
from 1990. Only the simulation is timed (target: at most 60 s each on 2 CPU cores); the
fit's time is printed for reference. The report gives the model evaluations per simulated
year (distinct states: rows sharing the previous occupation, the one before, tenure and the
person share one) against the 2,000,000 rows a row-by-row simulation would evaluate, and
the peak memory of the process.

Run: ``python benchmarks/bench_forecast.py [--draws 1000] [--persons 2000] [--skip-mnlogit]``.

Measured on 2 CPU cores (AMD EPYC, torch 2.13, numpy 2.4, 2026-12-03), nothing else running:

- Markov: 4.4 s (target 60 s). 3,190-3,890 distinct states per year (one per occupation and
  block of draws), peak RSS 472 MB.
- MNLogit (ridge, "career" features): 29.4 s (target 60 s; 43.8 s with a test run beside it;
  293.5 s before, at load 8-10, and 766 s before the additive tables). 20,000 to 1,386,551
  distinct states per simulated year of the 2,000,000 rows (a draw's occupation, the one
  before and tenure soon differ from the other draws'), each a product of four table rows
  (``StepFactors``: person part once per step, occupation, the one before, tenure) instead
  of a design row and an ``exp``. Peak RSS 774 MB (the fit's). Under heavy load torch's two
  threads can be several times slower: time it on an otherwise idle machine.
"""

import argparse
import os
import resource
import time
import warnings

from labor_econ import MarkovModel
from labor_econ.datasets import simulate_panel
from labor_econ.models.mnlogit import MNLogitModel
from labor_econ.taxonomies import occ1990


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--persons", type=int, default=2000)
    parser.add_argument("--horizon", type=int, default=10)
    parser.add_argument("--skip-mnlogit", action="store_true")
    parser.add_argument(
        "--maxiter",
        type=int,
        default=40,
        help="MNLogit iterations (the simulation's cost does not depend on convergence)",
    )
    args = parser.parse_args()
    print(f"load average {os.getloadavg()}")
    panel = simulate_panel(
        args.persons, taxonomy=occ1990(), years=range(1979, 1991), seed=0, miss_rate=0.1
    )
    print(panel)
    models = {"Markov": lambda: MarkovModel(panel).fit()}
    if not args.skip_mnlogit:

        def mnlogit():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return MNLogitModel(panel).fit(maxiter=args.maxiter, penalty=1.0, hessian=False)

        models["MNLogit"] = mnlogit
    for name, fit in models.items():
        t0 = time.perf_counter()
        res = fit()
        t_fit = time.perf_counter() - t0
        t0 = time.perf_counter()
        sim = res.simulate(
            horizon=args.horizon, n_draws=args.draws, seed=0, keep_draws=0, progress=False
        )
        t_sim = time.perf_counter() - t0
        rows = args.draws * panel.n_persons
        print(
            f"{name}: fit {t_fit:.1f} s; simulate {args.draws} draws x {args.horizon} years x "
            f"{panel.n_persons} persons at K = {len(panel.taxonomy)}: {t_sim:.1f} s "
            f"(target 60 s); peak RSS so far {_peak_mb():.0f} MB"
        )
        print(f"  model evaluations per year (of {rows:,} rows): {sim.scorings.tolist()}")
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
