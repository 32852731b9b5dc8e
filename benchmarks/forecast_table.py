"""The forecast table of issue 25 on the simulated NLSY79-like Stata file.

``write_nlsy79_dta`` writes 2,000 simulated careers (389 OCC1990 codes, the NLSY79's
interview years, skipped waves and missing or refused occupations). It is read back with
``CareerPanel.from_stata`` (missing occupations dropped), split by person 75/25; Marginal
and Markov (add-one) and the ridge MNLogit (``fit_regularized(alpha=1)``, "career"
features) are fit on the training persons' waves up to the cutoff, and each forecasts the
held-out persons ``--horizon`` years ahead from the cutoff with ``--draws`` simulated careers
per person (:func:`labor_econ.evaluate_forecasts`). Printed: the mean log of the
draw-averaged probability of what happened, per year ahead (higher is better), and times.

Run: ``python benchmarks/forecast_table.py [--persons 2000] [--cutoff 1990] [--horizon 4]
[--draws 500]``.
"""

import argparse
import os
import tempfile
import time
import warnings

from labor_econ import CareerPanel, MarginalModel, MarkovModel, MNLogitModel, evaluate_forecasts
from labor_econ.datasets import write_nlsy79_dta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=2000)
    parser.add_argument("--cutoff", type=int, default=1990)
    parser.add_argument("--horizon", type=int, default=4)
    parser.add_argument("--draws", type=int, default=500)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()}")
    path = os.path.join(tempfile.mkdtemp(), "nlsy79.dta")
    write_nlsy79_dta(path, args.persons, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the dropped missing occupations are counted
        panel = CareerPanel.from_stata(
            path,
            id="caseid",
            time="year",
            occupation="occ1990",
            static=["educ", "black", "female"],
            birth_year="birth_year",
            missing="drop",
        )
    train, test = panel.split(test_size=0.25, seed=0)
    data = train.data  # the training persons' waves up to the cutoff
    early = CareerPanel(
        data[data[panel.time] <= args.cutoff],
        id=panel.id,
        time=panel.time,
        occupation=panel.occupation,
        taxonomy=panel.taxonomy,
        static=["educ", "black", "female"],
        birth_year="birth_year",
    )
    print(panel, early, test, sep="\n")
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        models = {
            "Marginal": MarginalModel(early).fit(),
            "Markov": MarkovModel(early).fit(),
            "MNLogit": MNLogitModel(early).fit_regularized(alpha=1.0, hessian=False),
        }
    print(f"fit: {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    fe = evaluate_forecasts(
        models, test, start=args.cutoff, horizon=args.horizon, n_draws=args.draws, seed=0
    )
    print(f"forecasts ({args.draws} draws): {time.perf_counter() - t0:.1f} s")
    print(fe.table.round(3).to_string())
    print(f"excluded persons: {len(fe.excluded)}; load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
