"""Fine-tune a tiny model under torch.distributed.run (gloo, CPU) for tests/lm/test_finetune.py.

Usage: python -m torch.distributed.run --nproc_per_node=N ddp_finetune.py BASE OUT GLOBAL_BATCH
"""

import sys

from labor_econ import ResumeTemplate
from labor_econ.datasets import wage_panel
from labor_econ.lm import load_lm
from labor_econ.lm.finetune import finetune


def parts(wage):
    """The overfitting split of tests/lm/test_finetune.py's `parts` fixture."""
    occ = wage.data.groupby("nr")["occupation"]
    inside = occ.apply(lambda s: s.isin([5, 6]).all())
    outside = occ.apply(lambda s: ~s.isin([5, 6]).any())
    return wage.subset(inside[inside].index[:24]), wage.subset(outside[outside].index[:12])


def run(base: str, out: str, global_batch: int, world: int) -> None:
    train, val = parts(wage_panel())
    finetune(
        load_lm(base, device="cpu"),
        train,
        template=ResumeTemplate.preset("labor_llm"),
        val=val,
        epochs=6,
        learning_rate=1e-2,
        batch_size=global_batch // world,
        output_dir=out,
        progress=False,
        train_sampling_strategy="random",
    )


if __name__ == "__main__":
    import os

    base, out, global_batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
    run(base, out, global_batch, int(os.environ.get("WORLD_SIZE", "1")))
