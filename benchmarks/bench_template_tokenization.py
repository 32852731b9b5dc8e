"""Cold tokenization time per transition: one-line sentence resumes vs one wave per line.

The scorer tokenizes each prompt and, per distinct last wave, the K candidates after it
(``CandidateScorer._plan``). A one-line resume has no line break to key that cache on: without
``starts`` every transition tokenizes its whole prompt with every candidate. This times the
planning step alone (no forward pass) on 30-wave resumes of the OCC1990 taxonomy (K = 389),
with the tiny Llama-style tokenizer of :func:`labor_econ.lm.testing.tiny_lm`, on a cold cache
(a fresh scorer per run; best of three runs):

- ``labor_llm`` (one wave per line), default cache key (the last line);
- ``model_card`` (sentences on one line) with ``starts=template.wave_starts(prompts)``;
- ``model_card`` without ``starts`` (the whole-prompt fallback, as before issue 10).

Run: ``python benchmarks/bench_template_tokenization.py`` (a few minutes on 2 CPU cores).
"""

import tempfile
import time

from labor_econ import ResumeTemplate
from labor_econ.datasets import simulate_panel
from labor_econ.lm import CandidateScorer
from labor_econ.lm.testing import tiny_lm
from labor_econ.taxonomies import occ1990

YEARS = list(range(1980, 2010))  # 30 waves
panel = simulate_panel(2, taxonomy=occ1990(), years=YEARS, miss_rate=0.0, seed=0)
line, card = ResumeTemplate.preset("labor_llm"), ResumeTemplate.preset("model_card")
corpus = simulate_panel(60, taxonomy=occ1990(), years=YEARS, seed=1)
texts = [*line.resumes(corpus), *card.resumes(corpus)]
lm = tiny_lm(tempfile.mkdtemp(), texts, vocab_size=2048, device="cpu")
print(f"{panel}; K = {len(panel.taxonomy)}")


def cold_plan(template: ResumeTemplate, with_starts: bool) -> tuple[float, int, int]:
    prompts = template.prompts(panel).tolist()
    candidates = template.continuations(panel.taxonomy)
    starts = template.wave_starts(prompts) if with_starts else None
    best = float("inf")
    for _ in range(3):
        scorer = CandidateScorer(lm, progress=False)
        begin = time.perf_counter()
        scorer._plan(prompts, candidates, starts)
        best = min(best, time.perf_counter() - begin)
    tokens = max(len(ids) for ids in scorer._tok.encode(prompts))
    return best / len(prompts), len(prompts), tokens


for label, template, with_starts in [
    ("labor_llm, one wave per line (last-line key)", line, False),
    ("model_card, one line, starts=wave_starts", card, True),
    ("model_card, one line, no starts (whole prompt)", card, False),
]:
    per, n, tokens = cold_plan(template, with_starts)
    print(f"{label:50s} {1000 * per:8.2f} ms/transition ({n} transitions, <= {tokens} tokens)")
