"""Time K-candidate scoring: naive rows, the prompt's KV cache copied K times, and the token trie.

Run ``python benchmarks/bench_scoring.py`` for the tiny Llama on CPU; add ``--gpu`` (and
``--13b``) for a random-init Llama-2-7B (13B) shape in bfloat16 on CUDA, with plain prefill
throughput and the floor (prompt tokens + trie nodes) / prefill rate.

``--e2e`` times ``LLMModel`` end to end at K = 389 (occ1990, the ``labor_llm``
template, a simulated NLSY79-like panel, tokenization included) next to the floor and the
naive scorer, and projects the hours for a 370,000-transition panel on 1 and 8 GPUs: on a
random-init 7B (``--13b``: 13B) shape on CUDA, or the tiny Llama on CPU (``--tiny``, and
always when there is no GPU). Works with transformers 5.17 and newer.

``--fewer`` (issue 22) counts the tokens fed per transition on a tiny Llama trained for a
minute on a simulated NLSY79-like panel (K = 389 occ1990 titles, ``labor_llm``): the exact
trie, certified pruning at several tolerances (largest certified bound, largest actual
error in the observed outcome's normalized log p, and the trie nodes a best-first oracle that
knows every node's probability feeds for the same bound), observed-only scoring, what
reusing each person's prompt prefix would save, and the GPU hours these project for the
NLSY79 ``labor-econ fit`` from the H100 figure (61.4 ms per transition for 7B at about 140
prompt + 1,800 trie tokens).
"""

from __future__ import annotations

import argparse
import copy
import heapq
import inspect
import random
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import torch

from labor_econ.lm import CandidateScorer, CausalLM, naive_score
from labor_econ.lm.testing import tiny_lm

__all__ = [
    "bench_fewer_tokens",
    "kv_copy_score",
    "main",
    "oracle_fed_nodes",
    "synthetic_candidates",
    "synthetic_prompts",
]

_HEADS = [
    "Sales", "Managers of", "Supervisors of", "Operators of", "Assemblers of", "Inspectors of",
    "Teachers of", "Repairers of", "Clerks in", "Technicians in", "Workers in", "Engineers of",
]  # fmt: skip
_NOUNS = [
    "machines", "motor vehicles", "food services", "retail stores", "office equipment",
    "textile mills", "printing presses", "farm products", "electrical equipment", "metal work",
    "health services", "public schools", "construction", "wood products", "chemical plants",
    "transportation", "financial records", "mail and messages", "precision tools", "aircraft",
    "household appliances", "heavy equipment", "paper products", "photographic processes",
    "rubber products",
]  # fmt: skip
_SHAPES = {
    "7b": {"hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
           "num_attention_heads": 32},
    "13b": {"hidden_size": 5120, "intermediate_size": 13824, "num_hidden_layers": 40,
            "num_attention_heads": 40},
}  # fmt: skip


def synthetic_candidates(k: int = 300) -> list[str]:
    """`k` distinct occupation-like titles sharing prefixes, as candidates ``" title\\n"``."""
    titles = [f"{h} {n}" for h in _HEADS for n in _NOUNS]
    titles += [f"{t}, n.e.c." for t in titles]
    if k > len(titles):
        raise ValueError(f"at most {len(titles)} synthetic titles")
    return [f" {t}\n" for t in titles[:k]]


def synthetic_prompts(
    n: int, candidates: Sequence[str], *, lines: int = 30, seed: int = 0
) -> list[str]:
    """`n` resume-like prompts of `lines` past years each, ending at the year to predict."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        born = rng.randint(1940, 1970)
        start = born + rng.randint(16, 22)
        text = [f"A worker born in {born}, who lives in the {rng.choice(['north', 'south'])}."]
        for j in range(lines):
            text.append(f"{start + j} (age {start + j - born}):{rng.choice(candidates)[:-1]}")
        text.append(f"{start + lines} (age {start + lines - born}):")
        out.append("\n".join(text))
    return out


def kv_copy_score(
    lm: CausalLM, prompt: str, candidates: Sequence[str], *, chunk: int = 300
) -> np.ndarray:
    """log q for one prompt: one prompt forward, then its KV cache copied for each candidate.

    Assumes the prompt's tokens are a prefix of every prompt + candidate tokenization.
    """
    tok, model, device = lm.tokenizer, lm.model, lm.device
    prompt_ids = tok(prompt)["input_ids"]
    conts = []
    for c in candidates:
        joint = tok(prompt + c)["input_ids"]
        if joint[: len(prompt_ids)] != prompt_ids:
            raise ValueError(f"boundary merge for {c!r}: kv_copy_score does not handle it")
        conts.append(joint[len(prompt_ids) :])
    p = len(prompt_ids)
    out = np.empty(len(candidates))
    with torch.inference_mode():
        first = model(input_ids=torch.tensor([prompt_ids], device=device), use_cache=True)
        first_lp = torch.log_softmax(first.logits[0, -1].float(), -1).cpu()
        for s in range(0, len(conts), chunk):
            rows = conts[s : s + chunk]
            width = max(map(len, rows))
            ids = torch.zeros((len(rows), width), dtype=torch.long)
            mask = torch.zeros((len(rows), p + width), dtype=torch.long)
            mask[:, :p] = 1
            for b, r in enumerate(rows):
                ids[b, : len(r)] = torch.tensor(r)
                mask[b, p : p + len(r)] = 1
            cache = copy.deepcopy(_output_cache(first))
            cache.batch_repeat_interleave(len(rows))
            logits = model(
                input_ids=ids.to(device),
                attention_mask=mask.to(device),
                position_ids=(p + torch.arange(width, device=device)).expand(len(rows), -1),
                use_cache=True,
                **{_cache_argument(model): cache},
            ).logits
            lp = torch.log_softmax(logits.float(), -1).cpu()
            del cache, logits
            for b, r in enumerate(rows):
                picked = lp[b, torch.arange(len(r) - 1), torch.tensor(r[1:])]
                out[s + b] = first_lp[r[0]].item() + picked.double().sum().item()
    return out


def _output_cache(output: object) -> object:
    """The KV cache of a model output: ``cache`` in transformers >= 5.24, else
    ``past_key_values``."""
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values


def _cache_argument(model: torch.nn.Module) -> str:
    """The forward's name for a KV cache: ``cache`` (5.24+) or ``past_key_values`` (5.17)."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def _time(fn: Callable[[], object], repeat: int = 1) -> float:
    """Seconds per call, after one warm-up call."""
    fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / repeat


def _report(name: str, seconds: float, naive: float, note: str = "") -> None:
    print(f"  {name:<26} {1e3 * seconds:9.1f} ms/transition  {naive / seconds:6.1f}x  {note}")


def _compare(
    lm: CausalLM, prompts: list[str], cands: list[str], *, naive_batch: int, kv_chunk: int,
    repeat: int,
) -> None:  # fmt: skip
    scorer = CandidateScorer(lm, progress=False)
    whole = CandidateScorer(lm, progress=False, max_trie_nodes=None)
    plan = whole._plan(prompts, cands)
    lens = [len(ids) for ids, _ in plan]
    nodes = [len(parts[0][0].tokens) for _, parts in plan]
    rows = np.mean([len(parts) for _, parts in scorer._plan(prompts, cands)])
    print(
        f"K={len(cands)} candidates, {len(prompts)} prompts of {min(lens)}-{max(lens)} tokens, "
        f"tries of {min(nodes)}-{max(nodes)} nodes"
    )
    ref = naive_score(lm, prompts[:1], cands, batch_size=naive_batch)[0]
    t_naive = _time(lambda: naive_score(lm, prompts[:1], cands, batch_size=naive_batch))
    t_kv = _time(lambda: kv_copy_score(lm, prompts[0], cands, chunk=kv_chunk))
    err_kv = np.abs(kv_copy_score(lm, prompts[0], cands, chunk=kv_chunk) - ref).max()
    rows_p, rows_c = [prompts[0]] * len(cands), list(cands)
    t_rows = _time(lambda: scorer.score_observed(rows_p, rows_c))
    _report("naive (one row each)", t_naive, t_naive, "naive_score: full logits")
    _report("naive rows, head on cont.", t_rows, t_naive, "score_observed on K rows")
    _report("KV cache copied K times", t_kv, t_naive, f"max|diff| vs naive {err_kv:.1e}")
    for label, s in [(f"trie, auto cut ({rows:.1f} rows)", scorer), ("trie, whole", whole)]:
        t = _time(lambda s=s: s.score(prompts, cands), repeat) / len(prompts)
        err = np.abs(s.score(prompts[:1], cands)[0] - ref).max()
        _report(label, t, t_naive, f"max|diff| vs naive {err:.1e}")
    t = _time(lambda: CandidateScorer(lm, progress=False).score(prompts, cands)) / len(prompts)
    _report("trie, cold tokenizer cache", t, t_naive, "a new scorer: tokenization included")
    one = CandidateScorer(lm, progress=False, batch_tokens=1)
    t = _time(lambda: one.score(prompts, cands), repeat) / len(prompts)
    _report("trie, one prompt/forward", t, t_naive)
    if lm.device.type != "cpu" or lm.dtype != torch.float32:
        _prefill(lm, float(np.mean(lens)) + float(np.mean(nodes)), t)


def _on_sdpa(lm: CausalLM, fn: Callable[[], float]) -> float:
    """``fn()`` with the model on sdpa (plain causal prefill), whatever the scorer set on it:
    the floor must not depend on the scorer's attention."""
    before = lm.model.config._attn_implementation
    lm.model.set_attn_implementation("sdpa")
    try:
        return fn()
    finally:
        lm.model.set_attn_implementation(before)


def _prefill(lm: CausalLM, tokens_per_transition: float, t_trie: float) -> None:
    ids = torch.randint(3, 2048, (4, 2048), device=lm.device)

    def forward() -> object:
        return lm.model.model(input_ids=ids, use_cache=False)

    with torch.inference_mode():
        seconds = _on_sdpa(lm, lambda: _time(forward, repeat=3))
    rate = ids.numel() / seconds
    floor = tokens_per_transition / rate
    print(
        f"  plain prefill (sdpa, causal) {rate:,.0f} tokens/s; floor (prompt + trie nodes) / "
        f"rate = {1e3 * floor:.1f} ms/transition; trie at {100 * floor / t_trie:.0f}% of it"
    )


def bench_cpu(k: int, n_prompts: int) -> None:
    """Tiny Llama (2 layers, hidden 64) and a locally trained tokenizer, on CPU."""
    cands = synthetic_candidates(k)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = synthetic_prompts(2000, cands, lines=8, seed=1)
        lm = tiny_lm(tmp, corpus, initializer_range=0.2, device="cpu")
    print(f"tiny Llama on CPU, {torch.get_num_threads()} threads, float32")
    prompts = synthetic_prompts(n_prompts, cands, lines=34)
    _compare(lm, prompts, cands, naive_batch=100, kv_chunk=300, repeat=1)


def bench_gpu(shape: str | dict, k: int, n_prompts: int, device: str = "cuda") -> None:
    """Random-init Llama-2 shape (a name in _SHAPES, or LlamaConfig sizes) in bfloat16.

    The tokenizer is the tiny one; the model's vocabulary has Llama-2's 32000 entries.
    """
    from transformers import LlamaConfig, LlamaForCausalLM

    cands = synthetic_candidates(k)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = synthetic_prompts(2000, cands, lines=8, seed=1)
        tokenizer = tiny_lm(tmp, corpus, device="cpu").tokenizer
    shape_kwargs = _SHAPES[shape] if isinstance(shape, str) else shape
    config = LlamaConfig(vocab_size=32000, max_position_embeddings=4096, **shape_kwargs)
    with torch.device(device):
        model = LlamaForCausalLM._from_config(config, dtype=torch.bfloat16)
    model.eval()
    lm = CausalLM(model, tokenizer, torch.device(device), name=f"random Llama-2-{shape}")
    where = torch.cuda.get_device_name() if lm.device.type == "cuda" else "CPU"
    print(f"{lm.name} on {where}, bfloat16, sdpa")
    prompts = synthetic_prompts(n_prompts, cands, lines=34)
    _compare(lm, prompts, cands, naive_batch=32, kv_chunk=100, repeat=2)


def _e2e_lm(tiny: bool, shape: str, corpus: list[str], tmp: str) -> CausalLM:
    """The tiny Llama (CPU, float32) or a random-init Llama-2 shape (CUDA, bfloat16)."""
    if tiny:
        lm = tiny_lm(tmp, corpus, initializer_range=0.2, device="cpu")
        return CausalLM(lm.model, lm.tokenizer, lm.device, name="tiny Llama (2 layers, hidden 64)")
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = tiny_lm(tmp, corpus, device="cpu").tokenizer
    config = LlamaConfig(vocab_size=32000, max_position_embeddings=4096, **_SHAPES[shape])
    with torch.device("cuda"):
        model = LlamaForCausalLM._from_config(config, dtype=torch.bfloat16)
    model.eval()
    return CausalLM(model, tokenizer, torch.device("cuda"), name=f"random Llama-2-{shape}")


def _prefill_rate(lm: CausalLM, length: int, total: int = 8192) -> float:
    """Tokens/s of a plain causal sdpa forward over rows of `length` tokens (no LM head)."""
    rows = max(1, total // length)
    ids = torch.randint(3, len(lm.tokenizer), (rows, length), device=lm.device)

    def forward() -> object:
        return lm.model.model(input_ids=ids, use_cache=False)

    with torch.inference_mode():
        seconds = _on_sdpa(lm, lambda: _time(forward, repeat=3))
    return ids.numel() / seconds


def _compiled_graphs() -> int:
    """Graphs torch.compile has built in this process (TorchDynamo's counter)."""
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])


def bench_e2e(
    *, tiny: bool, shape: str = "7b", persons: int = 6, naive_transitions: int = 2,
    panel_size: int = 370_000, gpus: int = 8,
) -> dict[str, float]:  # fmt: skip
    """`LLMModel(...).fit()` at K = 389 against the floor and the naive scorer."""
    import transformers

    from labor_econ import LLMModel, LowValidMassWarning
    from labor_econ.datasets import simulate_panel
    from labor_econ.taxonomies import occ1990
    from labor_econ.templates import ResumeTemplate

    template, taxonomy = ResumeTemplate.preset("labor_llm"), occ1990()
    panel = simulate_panel(persons, taxonomy=taxonomy, seed=0)  # NLSY79 waves and cohorts
    other = simulate_panel(300, taxonomy=taxonomy, seed=1)
    observed = [template.continuation(c, taxonomy) for c in other.transitions()["occupation"]]
    corpus = [p + c for p, c in zip(template.prompts(other), observed, strict=True)]
    with tempfile.TemporaryDirectory() as tmp:
        lm = _e2e_lm(tiny, shape, corpus, tmp)
    graphs, t_start = _compiled_graphs(), time.perf_counter()  # the warm-up's
    where = torch.cuda.get_device_name() if lm.device.type == "cuda" else "CPU"
    print(
        f"end to end: {lm.name} on {where} ({lm.dtype}), torch {torch.__version__}, "
        f"transformers {transformers.__version__}"
    )
    # Warm-up on other persons (FlexAttention compiles on its first call), then a cold model
    # and scorer: tokenization is timed too.
    # The random or tiny LMs put little mass on the valid titles: silence that warning here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LowValidMassWarning)
        warm = LLMModel(simulate_panel(1, taxonomy=taxonomy, seed=2), lm, template=template)
        assert warm.fit().llf < 0
    model = LLMModel(panel, lm, template=template)
    # FlexAttention compiles a graph per packed length (L, and L/4 or L/16 for a call's last
    # batch): scoring 1, 2, 4, ... of the warm-up prompts compiles them all before timing.
    scorer = CandidateScorer(lm, progress=False)
    warm_prompts = warm.prompts.tolist()
    for count in 2 ** np.arange(int(np.log2(len(warm_prompts))) + 1):
        scorer.score(warm_prompts[:count], warm.candidates)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t_warm, warm_graphs = time.perf_counter() - t_start, _compiled_graphs() - graphs
    graphs = _compiled_graphs()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LowValidMassWarning)
        llf = model.fit().llf  # the scores are computed on first use
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    n = len(model.transitions)
    t_e2e = (time.perf_counter() - t0) / n
    run_graphs = _compiled_graphs() - graphs
    attention = lm.model.config._attn_implementation
    assert np.isfinite(llf)
    budget = scorer._token_budget()
    plans = CandidateScorer(lm, progress=False, max_trie_nodes=None)._plan(
        model.prompts.tolist(), model.candidates
    )
    prompt_tokens = np.mean([len(ids) for ids, _ in plans])
    nodes = np.mean([len(parts[0][0].tokens) for _, parts in plans])
    leaves = 1 - np.mean([len(parts[0][0].inner) / len(parts[0][0].tokens) for _, parts in plans])
    rate = _prefill_rate(lm, int(prompt_tokens + nodes))
    floor = (prompt_tokens + nodes) / rate
    few = model.prompts.tolist()[:naive_transitions]

    def naive() -> object:
        return naive_score(lm, few, model.candidates, batch_size=64)

    t_naive = _on_sdpa(lm, lambda: _time(naive)) / len(few)
    print(
        f"  K={len(model.candidates)}, {n} transitions of {persons} persons, prompts "
        f"{prompt_tokens:.0f} tokens and tries of {nodes:.0f} nodes on average "
        f"({100 * leaves:.0f}% leaves, not fed to the model)"
    )
    print(f"  plain prefill (sdpa, causal) {rate:,.0f} tokens/s")
    packed = f", packed length {-(-budget // 128) * 128:,}" if attention == "flex_attention" else ""
    print(
        f"  scorer attention: {attention}{packed}; warm-up {t_warm:.1f} s, compiling "
        f"{warm_graphs} graph(s); the timed run compiled {run_graphs} more (0: no recompiles)"
    )
    _report("naive_score", t_naive, t_naive, f"on {len(few)} transitions")
    _report("floor (prompt+nodes)/rate", floor, t_naive)
    _report("LLMModel e2e", t_e2e, t_naive, f"{t_e2e / floor:.2f}x the floor")
    hours = panel_size * t_e2e / 3600
    print(
        f"  projected for {panel_size:,} transitions: {hours:,.1f} h on 1 "
        f"{'GPU' if lm.device.type == 'cuda' else 'process'}, {hours / gpus:,.2f} h on {gpus} "
        "(ranks score disjoint shards; no communication but the final wait)"
    )
    return {"e2e": t_e2e, "floor": floor, "naive": t_naive}


def bench_cpu_real_titles(k: int = 300, n_prompts: int = 6) -> float:
    """The CPU target: a new scorer (cold tokenization) vs naive_score, K real occ1990 titles."""
    from labor_econ.datasets import simulate_panel
    from labor_econ.taxonomies import occ1990
    from labor_econ.templates import ResumeTemplate

    template, taxonomy = ResumeTemplate.preset("labor_llm"), occ1990()
    other = simulate_panel(300, taxonomy=taxonomy, seed=1)
    observed = [template.continuation(c, taxonomy) for c in other.transitions()["occupation"]]
    corpus = [p + c for p, c in zip(template.prompts(other), observed, strict=True)]
    with tempfile.TemporaryDirectory() as tmp:
        lm = tiny_lm(tmp, corpus, initializer_range=0.2, device="cpu")
    cands = template.continuations(taxonomy)[:k]
    prompts = template.prompts(simulate_panel(2, taxonomy=taxonomy, seed=3)).tolist()
    prompts = prompts[:: max(1, len(prompts) // n_prompts)][:n_prompts]
    print(f"tiny Llama on CPU, {torch.get_num_threads()} threads: K={k} real occ1990 titles")
    t_naive = _time(lambda: naive_score(lm, prompts[:2], cands, batch_size=100)) / 2
    t_cold = _time(lambda: CandidateScorer(lm, progress=False).score(prompts, cands)) / len(prompts)
    _report("naive_score", t_naive, t_naive)
    _report("trie, cold tokenizer cache", t_cold, t_naive, "target >= 20x")
    return t_naive / t_cold


# H100, 7B, bf16, labor_llm, K = 389 (/work/shared/notes/scoring.md, issue 22): end to end.
_H100_MS_PER_TRANSITION = 61.4
_H100_TOKENS_PER_TRANSITION = 140 + 1_800
_NLSY79_TRANSITIONS = 370_000


def _train_tiny(lm: CausalLM, texts: list[str], seconds: float, seed: int = 0) -> int:
    """Plain causal-LM training of `lm` on `texts` for about `seconds`; returns the steps."""
    tok, model = lm.tokenizer, lm.model
    ids = [tok(t)["input_ids"] for t in texts]
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        batch = [ids[i] for i in torch.randint(len(ids), (8,), generator=gen).tolist()]
        width = max(map(len, batch))
        x = torch.zeros((len(batch), width), dtype=torch.long)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)
        for b, row in enumerate(batch):
            x[b, : len(row)] = torch.tensor(row)
            labels[b, : len(row)] = torch.tensor(row)
        loss = model(input_ids=x, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        steps += 1
    model.eval()
    return steps


def oracle_fed_nodes(state: object, ratio: float) -> int:
    """Inner trie nodes a best-first oracle feeds to certify ``unexpanded <= ratio * found``.

    It knows every node's prefix probability (`state` from a full level-by-level
    expansion), feeds the observed candidate's path, then always the frontier node of
    largest prefix probability until the certificate holds.
    """
    trie, logp = state.trie, state.logp
    p = np.exp(logp)
    is_leaf_of = np.zeros(len(p), dtype=bool)
    is_leaf_of[trie.leaf] = True
    children = [[] for _ in range(len(p) + 1)]  # index v + 1; 0 is the root
    for v, parent in enumerate(trie.parent.tolist()):
        children[parent + 1].append(v)
    found = unexpanded = 0.0
    heap: list[tuple[float, int]] = []
    fed = 0

    def reach(v: int) -> None:
        nonlocal found, unexpanded
        if is_leaf_of[v]:
            found += p[v]
        if state.is_inner[v]:
            unexpanded += p[v]
            heapq.heappush(heap, (-p[v], v))

    def feed(v: int) -> None:
        nonlocal fed, unexpanded
        fed += 1
        unexpanded -= p[v]
        for c in children[v + 1]:
            reach(c)

    for v in children[0]:
        reach(v)
    done = set()
    for v in sorted(np.flatnonzero(state.must & state.is_inner), key=lambda v: trie.depth[v]):
        feed(int(v))
        done.add(int(v))
    while heap and unexpanded > ratio * found * (1 + 1e-12):
        _, v = heapq.heappop(heap)
        if v not in done:
            done.add(v)
            feed(v)
    return fed


def bench_fewer_tokens(
    *, train_seconds: float = 60.0, persons: int = 3, calibration: int = 5_000,
    tolerances: Sequence[float] = (1e-6, 1e-4, 1e-3, 1e-2), test_share: float = 0.2,
) -> dict[str, float]:  # fmt: skip
    """Fed tokens per transition: exact trie, pruned, observed-only; GPU-hour projection."""
    from scipy.special import logsumexp

    from labor_econ.datasets import simulate_panel
    from labor_econ.taxonomies import occ1990
    from labor_econ.templates import ResumeTemplate

    template, taxonomy = ResumeTemplate.preset("labor_llm"), occ1990()
    train = simulate_panel(300, taxonomy=taxonomy, seed=1)  # NLSY79 waves and cohorts
    panel = simulate_panel(persons, taxonomy=taxonomy, seed=0)
    resumes = template.resumes(train).tolist()
    with tempfile.TemporaryDirectory() as tmp:
        lm = tiny_lm(tmp, resumes + template.continuations(taxonomy), device="cpu", seed=0)
    steps = _train_tiny(lm, resumes, train_seconds)
    prompts = template.prompts(panel)
    texts = prompts.tolist()
    cands = template.continuations(taxonomy)
    obs = taxonomy.positions(panel.transitions()["occupation"].loc[prompts.index])
    n, rows = len(texts), np.arange(len(texts))
    starts = template.wave_starts(texts)
    print(
        f"tiny Llama (2 layers, hidden 64) trained {steps} steps ({train_seconds:.0f} s) on "
        f"{len(resumes)} simulated resumes; scoring {n} transitions of {persons} persons, "
        f"K = {len(cands)}, labor_llm, float32, 1 thread per process"
    )

    def run(fn: Callable[[CandidateScorer], object]) -> tuple[float, dict[str, int], object]:
        # Default settings: on CPU the exact trie is cut into rows sharing the prompt's keys.
        scorer = CandidateScorer(lm, progress=False)
        start = time.perf_counter()
        out = fn(scorer)
        return (time.perf_counter() - start) * 1e3 / n, dict(scorer.tokens_fed), (out, scorer)

    ms_exact, fed_exact, (exact, _) = run(lambda s: s.score(texts, cands, starts=starts))
    lp_exact = exact[rows, obs] - logsumexp(exact, axis=1)
    total_exact = fed_exact["prompt"] + fed_exact["trie"]
    # Every node's probability (a full level-by-level expansion) for the oracle.
    full = CandidateScorer(lm, progress=False)
    full._pruned_states = {}
    full._score_pruned(texts, cands, starts, 0.0, obs)
    states = [full._pruned_states[i] for i in range(n)]
    print(
        f"\n{'method':<22}{'fed tok/trans':>14}{'prompt':>8}{'trie':>8}{'ms/trans':>10}"
        f"{'max bound':>11}{'max error':>11}{'oracle trie':>12}{'x oracle':>9}"
    )
    print(
        f"{'exact trie':<22}{total_exact / n:>14.1f}{fed_exact['prompt'] / n:>8.1f}"
        f"{fed_exact['trie'] / n:>8.1f}{ms_exact:>10.1f}{0:>11.2g}{0:>11.2g}"
    )
    results: dict[str, float] = {"exact": total_exact / n}
    rounds: list[float] = []
    for eps in tolerances:

        def pruned(s: CandidateScorer, eps: float = eps) -> np.ndarray:
            s._pruned_states = {}
            return s.score(texts, cands, starts=starts, tolerance=eps, observed=obs)

        ms, fed, (got, scorer) = run(pruned)
        pruning = scorer.last_pruning
        rounds.append(
            np.mean([int(state.trie.depth[state.fed].max(initial=0)) + 1
                     for state in scorer._pruned_states.values()])
        )  # fmt: skip
        lp = got[rows, obs] - logsumexp(got, axis=1)
        error = float(np.abs(lp_exact - lp).max())
        # The oracle certifies each transition's achieved ratio (the same bound).
        oracle = sum(
            oracle_fed_nodes(state, r)
            for state, r in zip(states, pruning.unexpanded / pruning.found, strict=True)
        )
        total = fed["prompt"] + fed["trie"]
        results[f"pruned {eps:g}"] = total / n
        results[f"trie {eps:g}"] = fed["trie"] / n
        print(
            f"{f'pruned eps={eps:g}':<22}{total / n:>14.1f}{fed['prompt'] / n:>8.1f}"
            f"{fed['trie'] / n:>8.1f}{ms:>10.1f}{pruning.max_bound:>11.2g}{error:>11.2g}"
            f"{oracle / n:>12.1f}{fed['trie'] / max(oracle, 1):>9.2f}"
        )
    ms_obs, fed_obs, (observed, scorer) = run(
        lambda s: s.score_observed(
            texts, [cands[k] for k in obs], persons=prompts.index.get_level_values(0)
        )
    )
    assert np.abs(observed - exact[rows, obs]).max() < 1e-3  # the same numbers
    results["observed"] = fed_obs["observed"] / n
    print(
        f"{'observed-only':<22}{fed_obs['observed'] / n:>14.1f}{'':>8}{'':>8}{ms_obs:>10.1f}"
        f"   (1/{total_exact / fed_obs['observed']:.0f} of the exact trie's tokens; "
        f"{scorer.observed_fallback_rows} rows fell back to their own pass)"
    )
    prompt = fed_exact["prompt"] / n
    print(
        f"\nlevel by level: {min(rounds):.1f}-{max(rounds):.1f} forwards per transition; the "
        f"prompt's keys and values are kept, where feeding the prompt again each level would "
        f"add at least {(min(rounds) - 1) * prompt:.0f}-{(max(rounds) - 1) * prompt:.0f} "
        "tokens per transition"
    )
    # Person-prefix reuse for the full trie: each person's prompt fed once, then only the
    # new wave's tokens per transition.
    heads = [len(lm.tokenizer(t)["input_ids"]) for t in texts]
    persons_ids = prompts.index.get_level_values(0)
    once = sum(max(h for h, q in zip(heads, persons_ids, strict=True) if q == person)
               for person in set(persons_ids))  # fmt: skip
    saved = (fed_exact["prompt"] - once) / n
    print(
        f"\nperson-prefix reuse (full trie): prompt tokens {fed_exact['prompt'] / n:.1f} -> "
        f"{once / n:.1f} per transition, {saved / (total_exact / n):.1%} of the exact trie's "
        f"fed tokens; of the pruned eps={tolerances[-1]:g} run's: "
        f"{saved / results[f'pruned {tolerances[-1]:g}']:.1%}"
    )
    # GPU hours for the NLSY79 fit (7B, H100), scaled by the tokens fed per transition.
    ms_token = _H100_MS_PER_TRANSITION / _H100_TOKENS_PER_TRANSITION

    def ms_7b(trie_share: float) -> float:
        return (140 + 1_800 * trie_share) * ms_token

    before = _NLSY79_TRANSITIONS * _H100_MS_PER_TRANSITION / 3.6e6
    raw = _NLSY79_TRANSITIONS * (results["observed"] / (total_exact / n)) * 1_940 * ms_token
    print(
        f"\nprojected GPU hours, NLSY79 labor-econ fit with the LLM (7B, one H100, "
        f"{_NLSY79_TRANSITIONS:,} transitions, test share {test_share}):"
    )
    print(f"  before (every transition, exact trie): {before:.2f} h")
    print(f"  raw metrics of every transition, observed-only: {raw / 3.6e6 * 60:.1f} min")
    test = test_share * _NLSY79_TRANSITIONS
    for eps in (0.0, *tolerances):
        share = 1.0 if eps == 0 else results[f"trie {eps:g}"] / (fed_exact["trie"] / n)
        hours = ((test + calibration) * ms_7b(share) + raw) / 3.6e6
        print(
            f"  after, eps={eps:g} (test set + {calibration:,} calibration transitions, "
            f"trie share {share:.2f}; raw metrics observed-only): {hours:.2f} h"
        )
    return results


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--k", type=int, default=300, help="number of candidates")
    parser.add_argument("--prompts", type=int, default=16, help="transitions to time")
    parser.add_argument("--gpu", action="store_true", help="also time a 7B shape on CUDA")
    parser.add_argument("--13b", dest="b13", action="store_true", help="and a 13B shape")
    parser.add_argument("--e2e", action="store_true", help="LLMModel end to end")
    parser.add_argument("--tiny", action="store_true", help="--e2e with the tiny Llama on CPU")
    parser.add_argument("--persons", type=int, default=6, help="--e2e: simulated persons")
    parser.add_argument("--fewer", action="store_true", help="fed tokens: exact/pruned/observed")
    parser.add_argument("--train-seconds", type=float, default=40.0, help="--fewer: training")
    args = parser.parse_args(argv)
    if args.fewer:
        bench_fewer_tokens(train_seconds=args.train_seconds, persons=max(1, args.persons // 3))
        return
    if args.e2e:
        tiny = args.tiny or not torch.cuda.is_available()
        if tiny:
            bench_cpu_real_titles()
        for shape in ["7b"] + ["13b"] * args.b13:
            bench_e2e(tiny=tiny, shape=shape, persons=args.persons, naive_transitions=2)
            if tiny:
                break
            torch.cuda.empty_cache()
        return
    bench_cpu(args.k, args.prompts)
    if args.gpu or args.b13:
        if not torch.cuda.is_available():
            raise SystemExit("--gpu needs a CUDA device")
        for shape in ["7b"] + ["13b"] * args.b13:
            bench_gpu(shape, args.k, args.prompts)
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
