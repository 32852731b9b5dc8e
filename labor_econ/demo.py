"""Moved to :mod:`labor_econ.cli.demo`; kept so that old imports keep working."""

from .cli.demo import DemoConfig, DemoResult, default_cache_dir, demo_lm, run_demo

__all__ = ["DemoConfig", "DemoResult", "default_cache_dir", "demo_lm", "run_demo"]
