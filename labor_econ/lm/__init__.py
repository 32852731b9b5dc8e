"""Causal language models: loading checkpoints and scoring candidate continuations."""

from labor_econ.lm.loading import CausalLM, LMLoadError, load_lm
from labor_econ.lm.memory import TrainingMemory, estimate_training_memory
from labor_econ.lm.ranking import rank_templates
from labor_econ.lm.sampling import resume_prompts, sample_resumes
from labor_econ.lm.scoring import CandidateScorer, ContextLengthError, naive_score
from labor_econ.lm.store import ScoreStore, StoreMismatchError, score_panel

__all__ = [
    "CandidateScorer",
    "CausalLM",
    "ContextLengthError",
    "LMLoadError",
    "ScoreStore",
    "StoreMismatchError",
    "TrainingMemory",
    "estimate_training_memory",
    "load_lm",
    "naive_score",
    "rank_templates",
    "resume_prompts",
    "sample_resumes",
    "score_panel",
]
