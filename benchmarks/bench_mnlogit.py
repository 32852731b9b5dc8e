"""Time TransitionMNLogit at scale: K = 330 occupations, about 10^5 transitions.

The panel is simulated (:func:`labor_econ.datasets.simulate_panel`) on the first 330 codes
of the IPUMS OCC1990 taxonomy: 3,840 persons over the 30 NLSY79 waves, 100,087
transitions. With K = 330 the ``prev_occupation`` dummies alone would give
330 x 329 = 108,570 coefficients for about as many transitions, most cells of the
previous-by-next table empty (so most of those coefficients diverge); the benchmark uses
the compact feature set ``tenure, experience, gap, year, birth_year, static`` (the
career clock and the demographics: 8 design columns once ``year``, collinear with
``experience + gap`` when everyone starts in 1979, is omitted; 8 x 329 = 2,632
coefficients). Even so the dense Hessian (2,632^2 entries: 53 MiB, but about 7e11
operations to form) is over the ``hessian="auto"`` work limit, so the model is fit as it
would be by default: L-BFGS with the analytic score, ``skip_hessian=True``, no standard
errors.

Run: ``python benchmarks/bench_mnlogit.py`` (target: under 10 minutes on 2 CPU cores).
"""

import time
import warnings

from labor_econ import Taxonomy
from labor_econ.datasets import simulate_panel
from labor_econ.models.mnlogit import TransitionMNLogit
from labor_econ.taxonomies import occ1990

FEATURES = ["tenure", "experience", "gap", "year", "birth_year", "static"]

full = occ1990()
taxonomy = Taxonomy(full.codes[:330], full.titles[:330], name="occ1990[:330]")
panel = simulate_panel(3_840, taxonomy=taxonomy, seed=0)
print(panel)

start = time.perf_counter()
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    model = TransitionMNLogit(panel, features=FEATURES)
    built = time.perf_counter()
    results = model.fit()
fitted = time.perf_counter()
evaluation = results.evaluate(panel)
done = time.perf_counter()

for w in caught:
    print(f"{w.category.__name__}: {w.message}")
print(results)
print(f"coefficients: {results.k_params}; history: {results.fit_history}")
print(f"in-sample perplexity: {evaluation.perplexity:.2f} (K = {len(taxonomy)})")
print(
    f"design {built - start:.1f} s, fit {fitted - built:.1f} s, "
    f"evaluate {done - fitted:.1f} s, total {done - start:.1f} s"
)
