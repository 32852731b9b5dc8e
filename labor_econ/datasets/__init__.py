"""Data shipped with the package and a simulator of career panels with a known process."""

from .simulate import SimulatedProcess, nlsy79_waves, simulate_panel
from .wage_panel import wage_panel

__all__ = ["SimulatedProcess", "nlsy79_waves", "simulate_panel", "wage_panel"]
