"""Transition models: the LLM model and the econometric baselines, one results protocol."""

from .base import TransitionEvaluation, TransitionResults
from .llm import LLMTransitionModel, LLMTransitionResults
from .markov import MarginalModel, MarginalResults, MarkovResults, MarkovTransitionModel
from .mnlogit import TransitionMNLogit, TransitionMNLogitResults
from .pool import LogLinearPool, LogLinearPoolResults

__all__ = [
    "LLMTransitionModel",
    "LLMTransitionResults",
    "LogLinearPool",
    "LogLinearPoolResults",
    "MarginalModel",
    "MarginalResults",
    "MarkovResults",
    "MarkovTransitionModel",
    "TransitionEvaluation",
    "TransitionMNLogit",
    "TransitionMNLogitResults",
    "TransitionResults",
]
