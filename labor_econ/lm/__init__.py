"""Causal language models: loading checkpoints and scoring candidate continuations."""

from labor_econ.lm.inputs import PrefixCandidatesError, check_no_prefix_candidates
from labor_econ.lm.loading import CausalLM, LMLoadError, load_lm
from labor_econ.lm.memory import TrainingMemory, estimate_training_memory
from labor_econ.lm.observed import RawMetrics, raw_metrics
from labor_econ.lm.panel_scores import score_panel
from labor_econ.lm.ranking import rank_templates
from labor_econ.lm.run_record import RunMismatchError
from labor_econ.lm.sampling import resume_prompts, sample_resumes
from labor_econ.lm.scorer import Pruning
from labor_econ.lm.scoring import CandidateScorer, ContextLengthError, naive_score
from labor_econ.lm.store import ScoreStore, StoreCorruptError, StoreMismatchError

__all__ = [
    "CandidateScorer",
    "CausalLM",
    "ContextLengthError",
    "LMLoadError",
    "PrefixCandidatesError",
    "Pruning",
    "RawMetrics",
    "RunMismatchError",
    "ScoreStore",
    "StoreCorruptError",
    "StoreMismatchError",
    "TrainingMemory",
    "estimate_training_memory",
    "check_no_prefix_candidates",
    "load_lm",
    "naive_score",
    "raw_metrics",
    "rank_templates",
    "resume_prompts",
    "sample_resumes",
    "score_panel",
]
