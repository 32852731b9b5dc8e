"""Fixtures shared by the model tests."""

import pytest

from labor_econ.lm.testing import tiny_lm
from labor_econ.templates import ResumeTemplate


@pytest.fixture(scope="session")
def random_tiny_lm(tmp_path_factory, wage):
    """A random tiny Llama with a tokenizer trained on the wage panel's resumes: small
    enough to score in milliseconds (the LLM simulation tests; it writes no real titles,
    so its valid mass is low)."""
    texts = ResumeTemplate.preset("labor_llm").resumes(wage)
    return tiny_lm(
        tmp_path_factory.mktemp("random_tiny_lm"), texts, vocab_size=400, hidden_size=16,
        initializer_range=0.2, seed=1, device="cpu",
    )  # fmt: skip
