"""Time MNLogitModel at NLSY scale, and compare its test perplexity with Markov.

Two cases, both with the default fit (L-BFGS on the sparse design, analytic gradient, no
penalty) on panels simulated by :func:`labor_econ.datasets.simulate_panel`:

1. ``occ1990``, K = 389 codes, about 30,000 transitions, the full ``"career"`` features
   (previous occupation, the one before, tenure, experience, gap, year, birth year and the
   static covariates: about 780 design columns x 388 outcomes, about 300,000
   coefficients). Target: under 2 minutes on 2 CPU cores.
2. the first 330 ``occ1990`` codes, about 100,000 transitions, ``"career"`` features.
   Target: under 5 minutes on 2 CPU cores.

``--maxiter N`` caps the iterations (the fit then warns that it did not converge) and
``--penalty P`` fits the ridge instead (``fit_regularized(alpha=P)``). Each case also
reports the held-out perplexity of the MNLogit and of the add-one Markov model on 20% of
the persons. Neither model forms the Hessian at this size (no standard errors). Run:
``python benchmarks/bench_mnlogit.py [--case 1|2] [--penalty 1]``; it prints the load
average, since timings on a shared machine depend on it.

Measured (2 CPU cores, idle, 2026-11-26): with ``--penalty 1`` case 1 converges in 124
iterations, 66.6 s in all, test perplexity 6.10 against Markov's 11.23; case 2 converges
in 154 iterations, 177 s, perplexity 5.28 against 6.71. Without a penalty (the default)
case 1 used to be not converged after 800 iterations (120 s; log-likelihood -17,929.4 and
still rising), perplexity 37.43: at this size the unpenalized maximum does not exist (see
the ``MNLogitModel`` Notes); ``fit()`` now raises ``NoMaximumError`` after 75
iterations (28 s at load average 5, 2026-12-03).
"""

import argparse
import os
import time
import warnings

from labor_econ import MarkovModel, Taxonomy
from labor_econ.datasets import simulate_panel
from labor_econ.models.mnlogit import MNLogitModel, NoMaximumError
from labor_econ.taxonomies import occ1990

CASES = {
    1: {"codes": 389, "persons": 1_440, "target_s": 120},
    2: {"codes": 330, "persons": 4_800, "target_s": 300},
}


def run(case: int, maxiter: int | None = None, penalty: float = 0.0) -> None:
    spec = CASES[case]
    full = occ1990()
    k = spec["codes"]
    taxonomy = (
        full if k == len(full) else Taxonomy(full.codes[:k], full.titles[:k], name=f"occ1990[:{k}]")
    )
    panel = simulate_panel(spec["persons"], taxonomy=taxonomy, seed=0)
    train, test = panel.split(test_size=0.2, seed=0)
    print(
        f"case {case}: K = {k}, train {train.n_transitions} transitions "
        f"({train.n_persons} persons), test {test.n_transitions}"
    )
    print(f"load average before: {os.getloadavg()}")
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = MNLogitModel(train)
        built = time.perf_counter()
        if penalty:
            results = model.fit_regularized(alpha=penalty, progress=True, maxiter=maxiter)
        else:
            try:
                results = model.fit(progress=True, maxiter=maxiter)
            except NoMaximumError as err:
                print(f"  fit(): NoMaximumError after {time.perf_counter() - built:.1f} s: {err}")
                return
    fitted = time.perf_counter()
    for w in caught:
        print(f"  {w.category.__name__}: {str(w.message)[:600]}")
    markov = MarkovModel(train).fit()
    ppl_mnl = results.evaluate(test).perplexity
    ppl_markov = markov.evaluate(test).perplexity
    steps = int(results.fit_history[-1].split()[-2])
    print(f"  coefficients: {results.k_params}; penalty {penalty:g}; {results.fit_history}")
    print(f"  log-likelihood of the MNLogit part {results.mnl_llf:.2f}")
    print(f"  {1e3 * (fitted - built) / max(steps, 1):.0f} ms per L-BFGS iteration")
    print(
        f"  design {built - start:.1f} s, fit {fitted - built:.1f} s, "
        f"total {fitted - start:.1f} s (target {spec['target_s']} s)"
    )
    print(f"  test perplexity: MNLogit {ppl_mnl:.2f}, Markov {ppl_markov:.2f} (K = {k})")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", type=int, choices=sorted(CASES), action="append")
    parser.add_argument("--maxiter", type=int, default=None, help="L-BFGS iteration limit")
    parser.add_argument("--penalty", type=float, default=0.0, help="ridge penalty")
    args = parser.parse_args()
    for case in args.case or sorted(CASES):
        run(case, args.maxiter, args.penalty)
