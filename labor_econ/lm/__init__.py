"""Causal language models: loading checkpoints and scoring candidate continuations."""

from labor_econ.lm.loading import CausalLM, LMLoadError, load_lm
from labor_econ.lm.sampling import sample_resumes
from labor_econ.lm.scoring import CandidateScorer, naive_score

__all__ = ["CandidateScorer", "CausalLM", "LMLoadError", "load_lm", "naive_score", "sample_resumes"]
