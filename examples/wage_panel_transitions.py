"""Load the NLSY wage panel, print its transition matrix (as Stata's ``xttrans``), split it.

Run: ``python examples/wage_panel_transitions.py``
"""

import pandas as pd

from labor_econ.datasets import wage_panel

panel = wage_panel()  # Stata: use wagepan, clear; xtset nr year
print(panel)

# Stata: xttrans occupation, freq  (rows: previous occupation, columns: current, row %)
with pd.option_context("display.width", 120, "display.precision", 1):
    print(panel.transition_table())

# Split by person, never by year, so no career is in both parts.
train, test = panel.split(test_size=0.2, seed=0)
print(f"train: {train.n_persons} persons, {train.n_transitions} transitions")
print(f"test:  {test.n_persons} persons, {test.n_transitions} transitions")
