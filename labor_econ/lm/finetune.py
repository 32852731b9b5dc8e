"""Fine-tune a causal LM on a panel's resumes with the transformers Trainer."""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import Any, Literal

import torch

from ..panel import CareerPanel
from ..templates import ResumeTemplate
from .loading import CausalLM, load_lm
from .model_card import write_checkpoint_files

__all__ = ["finetune", "ResumeDataset"]

IGNORE = -100  # label ignored by the causal-LM loss


class ResumeDataset(torch.utils.data.Dataset):
    """Tokenized resumes of a panel, with labels on every token or on titles only.

    Parameters
    ----------
    panel : CareerPanel
        Persons whose resumes are the training texts.
    tokenizer : transformers tokenizer
        A fast tokenizer (offsets are needed for ``loss_on="titles"``).
    template : ResumeTemplate
        How careers are written.
    loss_on : {"all", "titles"}
        ``"all"``: the usual causal-LM loss on every token. ``"titles"``: only tokens that
        overlap a wave's continuation (title plus terminator) carry a label.
    max_length : int
        Longest tokenized resume; longer ones raise (nothing is silently truncated).
    """

    def __init__(
        self,
        panel: CareerPanel,
        tokenizer: Any,
        template: ResumeTemplate,
        *,
        loss_on: Literal["all", "titles"] = "all",
        max_length: int = 2048,
    ) -> None:
        if loss_on not in ("all", "titles"):
            raise ValueError(f"loss_on must be 'all' or 'titles', got {loss_on!r}")
        annotated = template.annotated_resumes(panel)
        texts = [r + (tokenizer.eos_token or "") for r in annotated["resume"]]
        enc = tokenizer(texts, return_offsets_mapping=True, add_special_tokens=True)
        self.examples: list[dict[str, list[int]]] = []
        for pid, ids, offsets, spans in zip(
            annotated.index,
            enc["input_ids"],
            enc["offset_mapping"],
            annotated["spans"],
            strict=True,
        ):
            if len(ids) > max_length:
                raise ValueError(
                    f"the resume of person {pid!r} has {len(ids)} tokens, more than "
                    f"max_length={max_length}; raise max_length or shorten the template"
                )
            if loss_on == "all":
                labels = list(ids)
            else:
                labels = [
                    tok if any(a < end and start < b for a, b in spans) else IGNORE
                    for tok, (start, end) in zip(ids, offsets, strict=True)
                ]
            self.examples.append({"input_ids": list(ids), "labels": labels})
        self.n_tokens = sum(len(e["input_ids"]) for e in self.examples)

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> dict[str, list[int]]:
        return self.examples[i]


def _collate(pad_id: int):
    def collate(batch: list[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        width = max(len(b["input_ids"]) for b in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, b in enumerate(batch):
            n = len(b["input_ids"])
            ids[i, :n] = torch.tensor(b["input_ids"])
            labels[i, :n] = torch.tensor(b["labels"])
            mask[i, :n] = 1
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}

    return collate


def _lora(model: Any, r: int, alpha: int, dropout: float) -> Any:
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as exc:  # pragma: no cover - depends on the optional extra
        raise ImportError("method='lora' needs peft: pip install 'labor-econ[lora]'") from exc
    config = LoraConfig(
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)


def finetune(
    lm: CausalLM,
    train: CareerPanel,
    *,
    template: str | ResumeTemplate = "labor_llm",
    val: CareerPanel | None = None,
    epochs: int = 3,
    method: Literal["full", "lora"] = "full",
    learning_rate: float | None = None,
    batch_size: int = 8,
    gradient_accumulation_steps: int = 1,
    loss_on: Literal["all", "titles"] = "all",
    output_dir: str | os.PathLike[str] = "finetuned",
    seed: int = 0,
    warmup_ratio: float = 0.05,
    weight_decay: float = 0.0,
    max_length: int = 2048,
    lora_r: int = 16,
    lora_alpha: int = 32,
    lora_dropout: float = 0.05,
    bf16: bool | None = None,
    gradient_checkpointing: bool | None = None,
    resume: bool = True,
    progress: bool | None = None,
    **training_args: Any,
) -> CausalLM:
    """Fine-tune ``lm`` on the resumes of ``train`` and return the best checkpoint.

    Causal-LM training with the transformers ``Trainer``: a linear warmup over
    ``warmup_ratio`` of the scheduled steps, then linear decay to zero at the end of
    ``epochs``; evaluation on ``val`` after every epoch; the checkpoint with the lowest
    validation loss is kept and returned (the LABOR-LLM paper's ``ckpt_bo5``: best of a
    5-epoch schedule; without ``val`` the last epoch, ``ckpt_3`` with ``epochs=3``).

    Multi-GPU: run the same script under ``torchrun --nproc_per_node=N script.py`` or
    ``accelerate launch script.py``; the Trainer uses DistributedDataParallel and
    ``batch_size`` is per device.

    Parameters
    ----------
    lm : CausalLM
        The starting model (a base model or a released checkpoint).
    train, val : CareerPanel
        Training persons and, optionally, validation persons (split by person).
    template : str or ResumeTemplate
        How careers are written; use the same template to score later.
    epochs : int
        Scheduled epochs (warmup and decay are computed from them).
    method : {"full", "lora"}
        Full fine-tuning, or LoRA adapters on all linear layers (needs ``peft``); LoRA
        adapters are merged into the returned model.
    learning_rate : float, optional
        Default 2e-5 for full fine-tuning, 2e-4 for LoRA (tiny CPU models want ~1e-3).
    batch_size, gradient_accumulation_steps : int
        Per-device batch size and accumulation.
    loss_on : {"all", "titles"}
        Loss on every token, or on the title-plus-terminator tokens only.
    output_dir : path-like
        Trainer checkpoints go to ``output_dir/checkpoint-*``; the returned model is
        saved to ``output_dir/best``.
    seed : int
        Seed of initialization of adapters and data order.
    bf16, gradient_checkpointing : bool, optional
        Default: on when training on a CUDA GPU (bf16 where supported), off on CPU.
    resume : bool
        Resume from the last checkpoint in ``output_dir`` when there is one.
    progress : bool, optional
        Show the Trainer's progress bar; default when stderr is a terminal.
    **training_args
        Further :class:`transformers.TrainingArguments`; they override the settings above.

    Returns
    -------
    CausalLM
        The best (or last) checkpoint, loaded with :func:`load_lm` from
        ``output_dir/best``, where the template (``labor_econ_template.json``), the
        training taxonomy (``labor_econ_taxonomy.csv``) and a model card (``README.md``:
        base model, training panel, template, schedule, loss history) are saved next to
        the weights; the returned model carries them as ``lm.template`` and
        ``lm.taxonomy``.
    """
    from transformers import Trainer, TrainingArguments
    from transformers.trainer_utils import get_last_checkpoint

    if method not in ("full", "lora"):
        raise ValueError(f"method must be 'full' or 'lora', got {method!r}")
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    if val is not None and set(val.persons) & set(train.persons):
        raise ValueError("train and val share persons; split by person (panel.split)")
    template = ResumeTemplate.coerce(template)
    tokenizer = lm.tokenizer
    output_dir = Path(output_dir)
    cuda = lm.device.type == "cuda"
    bf16 = (cuda and torch.cuda.is_bf16_supported()) if bf16 is None else bf16
    gradient_checkpointing = cuda if gradient_checkpointing is None else gradient_checkpointing
    if learning_rate is None:
        learning_rate = 2e-4 if method == "lora" else 2e-5

    data = {"loss_on": loss_on, "max_length": max_length}
    train_ds = ResumeDataset(train, tokenizer, template, **data)
    val_ds = ResumeDataset(val, tokenizer, template, **data) if val is not None else None

    world = int(os.environ.get("WORLD_SIZE", "1"))
    steps_per_epoch = math.ceil(len(train_ds) / (batch_size * gradient_accumulation_steps * world))
    total_steps = steps_per_epoch * epochs
    model = lm.model
    model.train()
    if gradient_checkpointing:
        # Enabled on the model rather than through TrainingArguments, whose flag is being
        # renamed across transformers 5.x releases. Non-reentrant checkpointing also works
        # with frozen embeddings (LoRA).
        model.config.use_cache = False
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if method == "lora":
        model = _lora(model, lora_r, lora_alpha, lora_dropout)

    settings = dict(
        output_dir=str(output_dir),
        num_train_epochs=epochs,
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=batch_size,
        gradient_accumulation_steps=gradient_accumulation_steps,
        learning_rate=learning_rate,
        lr_scheduler_type="linear",
        warmup_steps=round(warmup_ratio * total_steps),
        weight_decay=weight_decay,
        eval_strategy="epoch" if val_ds is not None else "no",
        save_strategy="epoch",
        load_best_model_at_end=val_ds is not None,
        metric_for_best_model="eval_loss" if val_ds is not None else None,
        greater_is_better=False,
        save_total_limit=2,
        logging_strategy="epoch",
        report_to="none",
        seed=seed,
        data_seed=seed,
        bf16=bf16,
        disable_tqdm=not (progress if progress is not None else _is_tty()),
        use_cpu=not cuda,
        remove_unused_columns=False,
    )
    args = TrainingArguments(**{**settings, **training_args})
    pad_id = tokenizer.pad_token_id
    if pad_id is None:
        pad_id = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=val_ds,
        data_collator=_collate(pad_id),
    )
    last = get_last_checkpoint(str(output_dir)) if resume and output_dir.is_dir() else None
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*use_cache=True.*gradient checkpointing.*")
        trainer.train(resume_from_checkpoint=last)

    best = trainer.model
    if method == "lora":
        best = best.merge_and_unload()
    best.config.use_cache = True
    best_dir = output_dir / "best"
    if trainer.is_world_process_zero():
        best.save_pretrained(best_dir)
        tokenizer.save_pretrained(best_dir)
        _write_history(best_dir, trainer)
        write_checkpoint_files(
            best_dir,
            base_model=lm.name,
            template=template,
            train=train,
            val=val,
            epochs=epochs,
            method=method,
            learning_rate=learning_rate,
            loss_on=loss_on,
            log_history=trainer.state.log_history,
            best_checkpoint=trainer.state.best_model_checkpoint,
        )
    trainer.accelerator.wait_for_everyone()
    return load_lm(best_dir, dtype=lm.dtype, device=lm.device)


def _write_history(path: Path, trainer: Any) -> None:
    """Record the epoch losses and which checkpoint was kept, next to the weights."""
    import json

    state = trainer.state
    record = {
        "best_model_checkpoint": state.best_model_checkpoint,
        "best_metric": state.best_metric,
        "log_history": state.log_history,
    }
    (path / "training_history.json").write_text(json.dumps(record, indent=1))


def _is_tty() -> bool:
    import sys

    return sys.stderr.isatty()
