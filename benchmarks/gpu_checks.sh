#!/usr/bin/env bash
# Every GPU check of the open work in one run, for a session lent a GPU (see benchmarks/README):
# versions, the scoring tests on the GPU image's transformers, end-to-end scoring at K = 389 for
# the 7B and 13B shapes, and optionally fine-tuning (FINETUNE=1). Output goes to stdout and, when
# $OUT is set, to $OUT/gpu_checks.log.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD TOKENIZERS_PARALLELISM=false
log=${OUT:-/tmp}/gpu_checks.log
quiet() { grep -v -e 'Warning: ' -e '^  assert warm' -e '^  llf = model' -e 'Writing model shards' -e 'Loading weights'; }
{
  date -u
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"
  if [ "${TESTS:-1}" = 1 ]; then
    timeout "${TESTS_S:-150}" python3 -m pytest -q -x -p no:cacheprovider -n 8 \
      tests/lm/test_scoring.py tests/lm/test_scoring_forward.py tests/lm/test_scoring_templates.py tests/models/test_llm_model.py tests/lm/test_store.py 2>&1 | tail -5
  fi
  # 7B, then 13B in the same process
  timeout "${E2E_S:-420}" python3 benchmarks/bench_scoring.py --e2e --13b --persons "${PERSONS:-6}" 2>&1 | quiet
  if [ "${FINETUNE:-0}" = 1 ]; then
    timeout "${FT_S:-240}" python3 benchmarks/bench_finetune.py --methods lora 2>&1 | quiet
  fi
  date -u
} 2>&1 | tee "$log"
