"""Time simulate_panel at NLSY79 scale (12,700 persons x 30 waves x 389 occ1990 codes).

Run: ``python benchmarks/bench_simulate.py`` (target: under 30 s on 2 CPU cores).
"""

import time

from labor_econ.datasets import simulate_panel
from labor_econ.taxonomies import occ1990

start = time.perf_counter()
panel = simulate_panel(12_700, taxonomy=occ1990(), special_states=True, seed=0)
elapsed = time.perf_counter() - start
print(panel)
print(f"simulate_panel at NLSY79 scale: {elapsed:.1f} s")
