"""Log-probabilities of K candidate continuations per prompt under a causal LM, via a token trie.

The work lives in one module per job: `labor_econ.lm.inputs` (checks), `labor_econ.lm.trie`,
`labor_econ.lm.tokenization` (and its caches' keys), `labor_econ.lm.masks` (row layout and
attention masks, with `labor_econ.lm.blockmask`), `labor_econ.lm.scorer` (the scorer, its
batching and forward passes) and `labor_econ.lm.testing` (the reference `naive_score`). This
module keeps every name it held importable from here.
"""

# Re-exports: every name this module held stays importable from here.
# ruff: noqa: F401

from __future__ import annotations

from labor_econ.lm.inputs import ContextLengthError, _check_candidates, _check_texts
from labor_econ.lm.masks import (
    _PACK_FRACTIONS,
    _has_flex_attention,
    _lay_out,
    _pack_length,
    _packed_width,
    _round_up,
)
from labor_econ.lm.scorer import (
    _CPU_BATCH_TOKENS,
    _CPU_HEAD_CHUNK_ROWS,
    _HEAD_CHUNK_ROWS,
    _OOM_ERRORS,
    _PAIR_DISCOUNT,
    _SHARED_ROW_NODES,
    _SUPPORTED_ATTENTION,
    CandidateScorer,
    _eval_mode,
    _static_compile,
)
from labor_econ.lm.testing import naive_score
from labor_econ.lm.tokenization import (
    _common_prefix,
    _context_start,
    _plain_backend,
    _segment_starts,
    _split_joint,
    _Tokenization,
)
from labor_econ.lm.trie import _lexicographic, _padded, _Paths, _Trie

__all__ = ["CandidateScorer", "ContextLengthError", "naive_score"]
