"""finetune under DistributedDataParallel: two CPU processes (gloo) started by torchrun.

``batch_size`` is per device, so with 2 processes an epoch of 20 resumes in batches of 3 has
ceil(20 / (3 * 2)) = 4 optimizer steps, not 7; finetune's warmup is computed from that count.
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from labor_econ import ResumeTemplate
from labor_econ.lm.testing import tiny_lm

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import os, sys
from pathlib import Path
from labor_econ import ResumeTemplate
from labor_econ.datasets import wage_panel
from labor_econ.lm import load_lm
from labor_econ.lm.finetune import finetune

out = Path(sys.argv[1])
panel = wage_panel()
train = panel.subset(panel.persons[:20])
finetune(
    load_lm(out / "base", device="cpu"), train, template=ResumeTemplate.preset("plain"),
    epochs=2, batch_size=3, learning_rate=1e-2, warmup_ratio=0.5, output_dir=out / "ft",
    progress=False,
)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_step_count_and_warmup(wage, tmp_path):
    train = wage.subset(wage.persons[:20])
    tiny_lm(tmp_path / "base", ResumeTemplate.preset("plain").resumes(train), vocab_size=300,
            hidden_size=16)  # fmt: skip
    (tmp_path / "train.py").write_text(textwrap.dedent(SCRIPT))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
        f"--master_port={_free_port()}", str(tmp_path / "train.py"), str(tmp_path),
    ]  # fmt: skip
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    history = json.loads((tmp_path / "ft" / "best" / "training_history.json").read_text())
    steps_per_epoch = math.ceil(20 / (3 * 2))
    assert history["log_history"][-1]["step"] == 2 * steps_per_epoch == 8
    epochs = [h for h in history["log_history"] if "loss" in h]
    assert [h["step"] for h in epochs] == [4, 8]
    # Warmup of round(0.5 * 8) = 4 steps, then linear decay to 0 at step 8: the learning rate
    # logged at the end of an epoch is that of its last update, lr(3) = 3/4 and
    # lr(7) = 1/4 of the peak. Warmup counted as if on one device (round(0.5 * 14) = 7)
    # would log 3/7 and 1.
    assert [h["learning_rate"] for h in epochs] == pytest.approx([0.0075, 0.0025], rel=1e-6)
