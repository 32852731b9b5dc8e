"""Shared fixtures: small panels built by hand and the shipped wage panel."""

import os

import pandas as pd
import pytest
import torch

from labor_econ import CareerPanel, Taxonomy
from labor_econ.datasets import wage_panel

# Under pytest-xdist each worker is one process per core: torch's own thread pool (one thread
# per core) would then oversubscribe the cores, which slows torch's kernels many times over.
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def wage():
    return wage_panel()


@pytest.fixture
def toy_taxonomy():
    return Taxonomy([1, 2, 3], ["Cashiers", "Cashiers and clerks", "Cooks"], name="toy")


@pytest.fixture
def toy_frame():
    return pd.DataFrame(
        {
            "pid": [7, 7, 7, 9, 9],
            "year": [1990, 1991, 1993, 1990, 1992],
            "occ": [1, 2, 2, 3, 1],
            "born": [1960, 1960, 1960, 1965, 1965],
            "female": [1, 1, 1, 0, 0],
            "hours": [40, 38, 20, 50, 45],
        }
    )


@pytest.fixture
def toy_panel(toy_frame, toy_taxonomy):
    return CareerPanel(
        toy_frame,
        id="pid",
        time="year",
        occupation="occ",
        taxonomy=toy_taxonomy,
        birth_year="born",
        static=["female"],
        varying=["hours"],
    )
