"""The ``labor-econ demo`` job: a fine-tuned tiny LM beside Markov and MNLogit on the wage panel."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

import pandas as pd

from ..datasets import wage_panel
from ..lm.finetune import finetune
from ..lm.loading import CausalLM, load_lm
from ..lm.testing import tiny_lm
from ..panel import CareerPanel
from ..templates import ResumeTemplate
from .outdir import prepare_out_dir

__all__ = ["DemoConfig", "DemoResult", "demo_lm", "run_demo", "default_cache_dir"]


@dataclass(frozen=True)
class DemoConfig:
    """Size and training schedule of the demo's tiny LM.

    The full configuration reaches the Markov baseline's test perplexity on the wage panel
    (see the README); ``quick`` trains a smaller model briefly, to check that everything
    runs (as CI does), not to compare models.
    """

    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 4
    vocab_size: int = 1024
    epochs: int = 8
    learning_rate: float = 3e-3
    batch_size: int = 16
    loss_on: str = "titles"
    template: str = "labor_llm"
    seed: int = 0

    @classmethod
    def quick(cls) -> DemoConfig:
        """A small, briefly trained model for smoke tests."""
        return cls(hidden_size=32, vocab_size=512, epochs=4)


def default_cache_dir() -> Path:
    """``$LABOR_ECON_CACHE``, else ``~/.cache/labor_econ``."""
    env = os.environ.get("LABOR_ECON_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "labor_econ"


def _cache_key(config: DemoConfig, train: CareerPanel, val: CareerPanel) -> str:
    from .._version import __version__

    digest = hashlib.sha256()
    digest.update(json.dumps(asdict(config), sort_keys=True).encode())
    digest.update(__version__.encode())
    for panel in (train, val):
        digest.update(pd.util.hash_pandas_object(panel.data, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]


def demo_lm(
    train: CareerPanel,
    val: CareerPanel,
    *,
    config: DemoConfig | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
    log: TextIO | None = None,
) -> CausalLM:
    """A tiny Llama fine-tuned on ``train``'s resumes, selected on ``val``; cached on disk.

    The tokenizer is trained on the training resumes, the model initialized at random and
    fine-tuned with :func:`labor_econ.finetune`. The result is stored under
    ``cache_dir/demo-<key>``, where the key hashes the configuration, the package version
    and the data, so a second call with the same inputs loads it instead of training.
    """
    config = config or DemoConfig()
    template = ResumeTemplate.preset(config.template)
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = root / f"demo-{_cache_key(config, train, val)}"
    if (target / "model" / "config.json").is_file():
        _say(log, f"reusing the cached tiny LM in {target}")
        return _named(load_lm(target / "model"), target)
    work = target.with_name(target.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    _say(log, f"training a tiny LM (first run; cached in {target}) ...")
    lm = tiny_lm(
        work / "init",
        template.resumes(train),
        vocab_size=config.vocab_size,
        hidden_size=config.hidden_size,
        num_layers=config.num_layers,
        num_heads=config.num_heads,
        seed=config.seed,
    )
    tuned = finetune(
        lm,
        train,
        template=template,
        val=val,
        epochs=config.epochs,
        learning_rate=config.learning_rate,
        batch_size=config.batch_size,
        loss_on=config.loss_on,
        output_dir=work / "train",
        seed=config.seed,
        progress=progress,
    )
    target.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(target / "model", ignore_errors=True)
    shutil.move(str(work / "train" / "best"), target / "model")
    shutil.rmtree(work, ignore_errors=True)
    return _named(load_lm(target / "model", dtype=tuned.dtype), target)


def _named(lm: CausalLM, target: Path) -> CausalLM:
    """Name the cached model for tables and tests (its path is long and uninformative)."""
    lm.name = f"tiny Llama ({target.name})"
    return lm


@dataclass
class DemoResult:
    """What the demo computed: the comparison, the tests and where the files are."""

    comparison: object
    vuong: object
    encompassing: object
    files: dict[str, Path]
    seconds: float


def _say(log: TextIO | None, text: str) -> None:
    if log is not None:
        print(text, file=log, flush=True)


def run_demo(
    out: str | os.PathLike[str] = "labor-econ-demo",
    *,
    quick: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
    overwrite: bool = False,
    log: TextIO | None = sys.stdout,
) -> DemoResult:
    """Run the demo: the whole product on the shipped NLSY wage panel.

    1. Split the 545 men by person: 20% test (seed 0); of the rest, 10% validation.
    2. Fine-tune a tiny LM on the training resumes, keeping the best-validation epoch.
    3. Fit marginal, Markov and MNLogit baselines on training + validation persons.
    4. Evaluate on the test persons: the LLM's own probabilities (uncalibrated) and the
       LLM calibrated (``scale``, ``stay``) on the validation persons.
    5. Print the comparison table, a Vuong test (LLM vs MNLogit) and an encompassing test
       (does the LLM add to MNLogit in a log-linear pool?), and write the table as text,
       LaTeX and HTML plus a calibration plot to ``out``.

    ``out`` must be new or empty unless ``overwrite=True``; it is created and checked for
    writing before any work (:func:`labor_econ.cli.outdir.prepare_out_dir`).
    """
    from ..diagnostics import compare, vuong_test
    from ..models.llm import LLMModel
    from ..models.markov import MarginalModel, MarkovModel
    from ..models.mnlogit import MNLogitModel
    from ..models.pool import LogLinearPoolModel
    from ..report import calibration_plot

    start = time.perf_counter()
    config = DemoConfig.quick() if quick else DemoConfig()
    out = prepare_out_dir(out, overwrite=overwrite)
    panel = wage_panel()
    fit_panel, test = panel.split(test_size=0.2, seed=0)
    train, val = fit_panel.split(test_size=0.1, seed=0)
    _say(log, f"wage panel: {panel!r}")
    _say(
        log,
        f"split by person: {train.n_persons} train, {val.n_persons} validation, "
        f"{test.n_persons} test",
    )

    lm = demo_lm(train, val, config=config, cache_dir=cache_dir, progress=progress, log=log)
    _say(log, "fitting baselines on train + validation persons ...")
    marginal = MarginalModel(fit_panel).fit()
    markov = MarkovModel(fit_panel).fit()
    mnlogit = MNLogitModel(fit_panel).fit()

    _say(log, "scoring the validation and test persons with the LM ...")
    from ..lm.scoring import CandidateScorer

    scorer = CandidateScorer(lm, progress=progress)
    llm_model = LLMModel(val, lm, template=config.template, scorer=scorer, name="LLM")
    llm = llm_model.fit()
    llm_calibrated = llm_model.fit(calibrate=True)

    models = {
        "Marginal": marginal,
        "Markov": markov,
        "MNLogit": mnlogit,
        "LLM": llm,
        "LLM calibrated": llm_calibrated,
    }
    comparison = compare(models, test)
    vuong = vuong_test(llm_calibrated, mnlogit, test)
    pool = LogLinearPoolModel(test, {"LLM": llm_calibrated, "MNLogit": mnlogit}).fit()
    encompassing = pool.encompassing_test("LLM")

    files = {
        "text": out / "comparison.txt",
        "latex": out / "comparison.tex",
        "html": out / "comparison.html",
        "calibration": out / "calibration.png",
        "tests": out / "tests.txt",
    }
    table_text = str(comparison.summary())
    files["text"].write_text(table_text + "\n")
    files["latex"].write_text(comparison.to_latex())
    files["html"].write_text(comparison._repr_html_())
    tests_text = f"Vuong test, LLM calibrated vs MNLogit:\n{vuong}\n\n"
    tests_text += f"Encompassing test (log-linear pool of LLM and MNLogit):\n{encompassing}\n"
    files["tests"].write_text(tests_text)
    calibration_plot(comparison.evaluations, files["calibration"])

    seconds = time.perf_counter() - start
    _say(log, "\n" + table_text + "\n")
    _say(log, tests_text)
    _say(log, f"wrote {', '.join(str(p) for p in files.values())}")
    _say(log, f"demo finished in {seconds:.0f} s")
    return DemoResult(comparison, vuong, encompassing, files, seconds)
