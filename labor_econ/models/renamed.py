"""Old class names kept importable: each warns once per use and returns the renamed class.

The models follow one naming scheme, ``<Kind>Model`` estimates and ``<Kind>Results`` holds
the fit: ``MarkovModel``/``MarkovResults``, ``MarginalModel``/``MarginalResults``,
``MNLogitModel``/``MNLogitResults``, ``LLMModel``/``LLMResults``,
``LogLinearPoolModel``/``LogLinearPoolResults``.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from typing import Any

__all__ = ["RENAMED", "renamed_getattr"]

#: Old name -> (module of the new class, new name).
RENAMED: dict[str, tuple[str, str]] = {
    "MarkovTransitionModel": ("labor_econ.models.markov", "MarkovModel"),
    "TransitionMNLogit": ("labor_econ.models.mnlogit", "MNLogitModel"),
    "TransitionMNLogitResults": ("labor_econ.models.mnlogit", "MNLogitResults"),
    "LLMTransitionModel": ("labor_econ.models.llm", "LLMModel"),
    "LLMTransitionResults": ("labor_econ.models.llm", "LLMResults"),
    "LogLinearPool": ("labor_econ.models.pool", "LogLinearPoolModel"),
}


def renamed_getattr(module: str, names: tuple[str, ...]) -> Callable[[str], Any]:
    """A module ``__getattr__`` resolving the old ``names`` with a FutureWarning."""

    def __getattr__(name: str) -> Any:
        if name in names:
            where, new = RENAMED[name]
            warnings.warn(
                f"{name} is renamed {new} (one naming scheme: <Kind>Model estimates, "
                f"<Kind>Results holds the fit); the old name will be removed",
                FutureWarning,
                stacklevel=2,
            )
            return getattr(importlib.import_module(where), new)
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
