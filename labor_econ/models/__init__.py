"""Transition models: the LLM model and the econometric baselines, one results protocol.

One naming scheme: ``<Kind>Model`` estimates, ``<Kind>Results`` holds the fit. The old
names (``MarkovTransitionModel``, ``TransitionMNLogit``, ``TransitionMNLogitResults``,
``LLMTransitionModel``, ``LLMTransitionResults``, ``LogLinearPool``) still import, with a
FutureWarning (:mod:`labor_econ.models.renamed`).
"""

from .base import TransitionEvaluation, TransitionResults
from .changes import ChangeEvaluation
from .llm import LLMModel, LLMResults
from .markov import MarginalModel, MarginalResults, MarkovModel, MarkovResults
from .mnlogit import MNLogitModel, MNLogitResults
from .pool import LogLinearPoolModel, LogLinearPoolResults
from .renamed import RENAMED, renamed_getattr

# ``simulate`` stays the module's name here (tests and docs reach its engine through it):
# the function is ``results.simulate`` and ``labor_econ.simulate``
from .simulate import Counterfactual, Simulation, counterfactual

__all__ = [
    "ChangeEvaluation",
    "Counterfactual",
    "LLMModel",
    "LLMResults",
    "LogLinearPoolModel",
    "LogLinearPoolResults",
    "MNLogitModel",
    "MNLogitResults",
    "MarginalModel",
    "MarginalResults",
    "MarkovModel",
    "MarkovResults",
    "Simulation",
    "TransitionEvaluation",
    "TransitionResults",
    "counterfactual",
]

__getattr__ = renamed_getattr(__name__, tuple(RENAMED))
