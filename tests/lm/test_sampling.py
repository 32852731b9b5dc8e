"""sample_resumes: seeded, batched generation that matches the model's own distribution."""

import numpy as np
import pytest
import torch
from greedy import greedy_reference

from labor_econ import ResumeTemplate
from labor_econ.lm import resume_prompts, sample_resumes
from labor_econ.lm.testing import tiny_lm


@pytest.fixture(scope="module")
def lm(tmp_path_factory, wage):
    panel = wage.subset(wage.persons[:20])
    texts = ResumeTemplate.preset("plain").resumes(panel)
    return tiny_lm(
        tmp_path_factory.mktemp("sampling"), texts, vocab_size=400, hidden_size=32,
        initializer_range=0.3, dtype="float32",
    )  # fmt: skip


def test_same_seed_same_texts(lm):
    a = sample_resumes(lm, 6, max_new_tokens=12, seed=3, batch_size=4, progress=False)
    b = sample_resumes(lm, 6, max_new_tokens=12, seed=3, batch_size=4, progress=False)
    c = sample_resumes(lm, 6, max_new_tokens=12, seed=4, batch_size=4, progress=False)
    assert a == b
    assert a != c
    assert len(a) == 6 and all(isinstance(t, str) and t for t in a)
    assert not any("<s>" in t or "</s>" in t for t in a)


def test_global_random_state_untouched(lm):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    sample_resumes(lm, 2, max_new_tokens=4, progress=False)
    assert torch.equal(torch.rand(3), expected)


def test_prompt_starts_every_text(lm):
    texts = sample_resumes(lm, 4, prompt="1981:", max_new_tokens=8, progress=False)
    assert all(t.startswith("1981:") for t in texts)


def test_greedy_batched_left_padded_matches_reference(lm):
    """Prompts of different lengths in one batch (left padding) give exactly what greedy
    decoding by hand gives for each prompt alone."""
    prompts = ["1980:", "1980: Service workers\n1981:", "1980: Sales workers\n1981: Sales"]
    texts = sample_resumes(
        lm, 3, prompt=prompts, temperature=0, max_new_tokens=10, batch_size=3, progress=False
    )
    assert texts == [greedy_reference(lm, p, 10) for p in prompts]


def test_samples_follow_the_model_distribution(lm):
    """With temperature 1 the first generated token is drawn from the full softmax (no top-k
    or nucleus cut): its frequencies match the model's probabilities."""
    prompt = "1980: Sales workers\n1981:"
    ids = lm.tokenizer(prompt)["input_ids"]
    with torch.no_grad():
        probs = (
            torch.softmax(
                lm.model(torch.tensor([ids], device=lm.device)).logits[0, -1].double(), -1
            )
            .cpu()
            .numpy()
        )
    n = 600
    texts = sample_resumes(
        lm, n, prompt=prompt, max_new_tokens=1, batch_size=200, seed=0, progress=False
    )
    # Map each sampled text back to its token; tokens that decode to the same text merge.
    decoded = {}
    for token, p in enumerate(probs):
        text = lm.tokenizer.decode(ids + [token], skip_special_tokens=True)
        decoded[text] = decoded.get(text, 0.0) + p
    top = sorted(decoded, key=decoded.get, reverse=True)
    checks = [{k} for k in top[:3]] + [set(top[50:])]  # the 3 likeliest texts; the tail
    for texts_k in checks:
        p = sum(decoded[k] for k in texts_k)
        share = np.mean([t in texts_k for t in texts])
        assert abs(share - p) < 4 * np.sqrt(p * (1 - p) / n), (texts_k, share, p)
    tail = sum(decoded[k] for k in top[50:])
    assert tail > 0.1, "the test needs a distribution with mass beyond a top-50 cut"


def test_bad_arguments(lm):
    with pytest.raises(ValueError, match="n must be at least 1"):
        sample_resumes(lm, 0)
    with pytest.raises(ValueError, match="2 prompts for n=3"):
        sample_resumes(lm, 3, prompt=["a", "b"])
    with pytest.raises(ValueError, match="temperature"):
        sample_resumes(lm, 1, temperature=-1)
    with pytest.raises(ValueError, match="batch_size"):
        sample_resumes(lm, 1, batch_size=0)


def test_empty_prompt_starts_from_bos(lm):
    """An empty prompt starts from the BOS token, whether or not the tokenizer adds it."""
    expected = sample_resumes(lm, 2, max_new_tokens=5, progress=False)
    tok = lm.tokenizer
    before = tok.add_bos_token
    try:
        tok.add_bos_token = False
        assert tok("")["input_ids"] == []
        texts = sample_resumes(lm, 2, max_new_tokens=5, progress=False)
    finally:
        tok.add_bos_token = before
    assert texts == expected


def test_resume_prompts_start_the_users_careers(wage, lm):
    """Prompts: header and first waves of each person, up to the next wave's outcome."""
    panel = wage.subset(wage.persons[:3])
    t = ResumeTemplate(header=("Born {birth_year}.",), line="In {year}, a {title}.")
    prompts = resume_prompts(t, panel, waves=1)
    full = t.resumes(panel)
    expected = t.prompts(panel, include_first=True)
    assert prompts == [expected.loc[p].iloc[1] for p in panel.persons]
    assert all(full.loc[p].startswith(q) for p, q in zip(panel.persons, prompts, strict=True))
    assert all(q.count(" a ") == 1 and q.endswith(", a") for q in prompts)
    assert resume_prompts(t, panel, waves=0, n=5)[3] == expected.loc[panel.persons[0]].iloc[0]
    texts = sample_resumes(lm, 3, prompt=prompts, max_new_tokens=4, progress=False)
    assert all(x.startswith(q) for x, q in zip(texts, prompts, strict=True))
    with pytest.raises(ValueError, match="waves"):
        resume_prompts(t, panel, waves=-1)
