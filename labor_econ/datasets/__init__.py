"""Data shipped with the package and a simulator of career panels with a known process."""

from .nlsy_dta import write_nlsy79_dta
from .simulate import SimulatedProcess, nlsy79_waves, simulate_panel
from .wage_panel import wage_panel

__all__ = [
    "SimulatedProcess",
    "nlsy79_waves",
    "simulate_panel",
    "wage_panel",
    "write_nlsy79_dta",
]
