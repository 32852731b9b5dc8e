"""Causal language models: loading checkpoints and scoring candidate continuations."""

from labor_econ.lm.loading import CausalLM, LMLoadError, load_lm
from labor_econ.lm.scoring import CandidateScorer, ContextLengthError, naive_score
from labor_econ.lm.store import ScoreStore, StoreMismatchError, score_panel

__all__ = [
    "CandidateScorer",
    "CausalLM",
    "ContextLengthError",
    "LMLoadError",
    "ScoreStore",
    "StoreMismatchError",
    "load_lm",
    "naive_score",
    "score_panel",
]
