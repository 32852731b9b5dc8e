"""Causal language models: loading checkpoints and scoring candidate continuations."""

from labor_econ.lm.loading import CausalLM, LMLoadError, load_lm
from labor_econ.lm.memory import TrainingMemory, estimate_training_memory
from labor_econ.lm.scoring import CandidateScorer, naive_score

__all__ = [
    "CandidateScorer",
    "CausalLM",
    "LMLoadError",
    "TrainingMemory",
    "estimate_training_memory",
    "load_lm",
    "naive_score",
]
