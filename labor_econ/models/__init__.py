"""Transition models: the LLM model and the econometric baselines, one results protocol."""

from .base import TransitionEvaluation, TransitionResults

__all__ = ["TransitionEvaluation", "TransitionResults"]
