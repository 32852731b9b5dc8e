"""How many persons does the LLM's calibration need? Standard errors of `scale` and `stay`.

``fit(calibrate=True)`` estimates two parameters; scoring the transitions it is estimated on
is the cost (about 61 ms per transition for a 7B checkpoint on one H100, 108 ms for 13B:
docs/tutorials/scaling.md). This script measures, on a simulated NLSY79-like panel (occ1990,
K = 389; 30 waves, irregular) whose true calibration is known, how the person-clustered
standard errors and the estimates change when the calibration uses a seeded subsample of
persons instead of all of them, and prints the GPU time the subsample's scoring would take.

The scores come from the known process (no LM): log q is built so that the true
``log p = scale * log q + stay * 1[k = prev] + const`` with ``scale = 0.5``, ``stay = 0.7``
and 26% of the LM's mass on text that is no occupation, as in tests/models/test_llm_model.py.

Run ``python benchmarks/bench_calibration.py`` (about 2 minutes on one core).
"""

from __future__ import annotations

import argparse
import platform
import time
import warnings

import numpy as np
from scipy.special import log_softmax

from labor_econ.datasets import simulate_panel
from labor_econ.models.llm import LLMModel
from labor_econ.taxonomy import occ1990

__all__ = ["main", "scores_from_truth"]

TRUTH = (0.5, 0.7)
#: Measured end to end on one H100, random-init Llama-2 shapes, bf16, K = 389 (issue 22).
MS_PER_TRANSITION = {"7B": 61.4, "13B": 108.4}
NLSY79_TRAIN_PERSONS = 10_160  # 12,700 persons, test share 0.2


def scores_from_truth(panel, process, scale, stay, leak=0.3):
    """log q whose calibration is (scale, stay), with 1 - exp(-leak) of the mass elsewhere."""
    logp = process.log_probabilities(panel).to_numpy(copy=True)
    prev = panel.taxonomy.positions(panel.transitions()["prev_occupation"])
    logp[np.arange(len(prev)), prev] -= stay
    return log_softmax(logp / scale, axis=1) - leak


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--persons", type=int, default=3000, help="persons of the full panel")
    p.add_argument("--sizes", default="125,250,500,1000,2000", help="subsample sizes")
    p.add_argument("--seeds", type=int, default=5, help="subsamples per size")
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]

    start = time.perf_counter()
    panel, process = simulate_panel(args.persons, taxonomy=occ1990(), seed=0, return_process=True)
    logq = scores_from_truth(panel, process, *TRUTH)
    model = LLMModel.from_scores(panel, logq, name="truth")
    per_person = panel.n_transitions / panel.n_persons
    print(
        f"panel: {panel.n_persons} persons, {panel.n_transitions} transitions "
        f"({per_person:.1f} per person), K = {len(panel.taxonomy)}; simulated in "
        f"{time.perf_counter() - start:.0f} s; python {platform.python_version()}"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # valid mass 0.74 is by construction
        full = model.fit(calibrate=True, calibration_persons="all")
    se_full = full.bse.to_numpy()
    print(
        f"all {panel.n_persons} persons: scale {full.params['scale']:.4f} "
        f"(SE {se_full[0]:.4f}), stay {full.params['stay']:.4f} (SE {se_full[1]:.4f}); "
        f"truth {TRUTH}"
    )
    print()
    header = (
        "persons | transitions | SE scale | SE stay | SE ratio | sqrt(N/n) | "
        "max |sub - all| / SE_sub (scale, stay) | 7B min | 13B min"
    )
    print(header)
    print("-" * len(header))
    for size in sizes:
        ses, dev, n = [], [], []
        for seed in range(args.seeds):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = model.fit(calibrate=True, calibration_persons=size, seed=seed)
            ses.append(res.bse.to_numpy())
            dev.append(np.abs(res.params.to_numpy() - full.params.to_numpy()) / ses[-1])
            n.append(res.nobs)
        se, nobs = np.mean(ses, axis=0), float(np.mean(n))
        worst = np.max(dev, axis=0)
        minutes = {k: nobs * ms / 1000 / 60 for k, ms in MS_PER_TRANSITION.items()}
        print(
            f"{size:7d} | {nobs:11.0f} | {se[0]:8.4f} | {se[1]:7.4f} | "
            f"{np.mean(se / se_full):8.2f} | {np.sqrt(panel.n_transitions / nobs):9.2f} | "
            f"{worst[0]:18.2f}, {worst[1]:.2f}{'':16s} | {minutes['7B']:6.1f} | "
            f"{minutes['13B']:7.1f}"
        )
    all_minutes = NLSY79_TRAIN_PERSONS * per_person * MS_PER_TRANSITION["7B"] / 1000 / 60
    print(
        f"\nall NLSY79 training persons ({NLSY79_TRAIN_PERSONS}): about "
        f"{all_minutes / 60:.1f} h of 7B scoring for the calibration alone"
    )
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
