"""Fine-tune a causal LM on a panel's resumes with the transformers Trainer."""

from __future__ import annotations

import math
import numbers
import os
import warnings
from pathlib import Path
from typing import Any, Literal

import torch

from ..panel import CareerPanel
from ..templates import ResumeTemplate
from .batching import (
    IGNORE,
    TokenBudgetBatchSampler,
    packed_collator,
    pad_collator,
    resolve_packing,
)
from .loading import CausalLM, load_lm
from .memory import available_memory, check_training_memory, estimate_training_memory
from .model_card import write_checkpoint_files
from .precision import autocast_dtype
from .run_record import (
    RunMismatchError,
    check_resumable,
    clear_run,
    run_fingerprint,
    write_fingerprint,
)

__all__ = ["finetune", "ResumeDataset", "RunMismatchError"]


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
        enc = _encode_as_text(tokenizer, list(annotated["resume"]))
        eos = [] if tokenizer.eos_token_id is None else [tokenizer.eos_token_id]
        self.ids = list(annotated.index)
        self.examples: list[dict[str, list[int]]] = []
        for pid, ids, offsets, spans in zip(
            annotated.index,
            enc["input_ids"],
            enc["offset_mapping"],
            annotated["spans"],
            strict=True,
        ):
            if len(ids) + len(eos) > max_length:
                raise ValueError(
                    f"the resume of person {pid!r} has {len(ids) + len(eos)} tokens, more than "
                    f"max_length={max_length}; raise max_length or shorten the template"
                )
            if loss_on == "all":
                labels = list(ids) + eos
            else:
                labels = [
                    tok if any(a < end and start < b for a, b in spans) else IGNORE
                    for tok, (start, end) in zip(ids, offsets, strict=True)
                ] + [IGNORE] * len(eos)
            self.examples.append({"input_ids": list(ids) + eos, "labels": labels})
        self.n_tokens = sum(len(e["input_ids"]) for e in self.examples)

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> dict[str, list[int]]:
        return self.examples[i]

    @property
    def lengths(self) -> list[int]:
        """Token count of every resume."""
        return [len(e["input_ids"]) for e in self.examples]


def _encode_as_text(tokenizer: Any, texts: list[str]) -> Any:
    """Tokenize with offsets, reading special-token strings in the data as plain text.

    A title such as ``"Clerk </s>"`` must not end the resume early: the fast tokenizer's
    ``split_special_tokens=True`` encodes ``"</s>"`` as ``<``, ``/``, ``s``, ``>``. The
    BOS added by the template processor is unaffected. The flag is stored on the backend
    tokenizer by the call, so its previous value is put back.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    previous = getattr(backend, "encode_special_tokens", None)
    try:
        return tokenizer(
            texts,
            return_offsets_mapping=True,
            add_special_tokens=True,
            split_special_tokens=True,
        )
    finally:
        if previous is not None:
            backend.encode_special_tokens = previous


_collate = pad_collator  # the padded collator, under its former name


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
    batch_tokens: int | None = None,
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
    packing: bool | Literal["auto"] = "auto",
    check_memory: bool = True,
    resume: bool = True,
    progress: bool | None = None,
    callbacks: list[Any] | None = None,
    **training_args: Any,
) -> CausalLM:
    """Fine-tune ``lm`` on the resumes of ``train`` and return the best checkpoint.

    Causal-LM training with the transformers ``Trainer``: a linear warmup over
    ``warmup_ratio`` of the scheduled steps, then linear decay to zero at the end of
    ``epochs``; evaluation on ``val`` after every epoch; the checkpoint with the lowest
    validation loss is kept and returned (the LABOR-LLM paper's ``ckpt_bo5``: best of a
    5-epoch schedule; without ``val`` the last epoch, ``ckpt_3`` with ``epochs=3``).
    The train and validation losses of every epoch are printed and kept in
    ``output_dir/best/training_history.json``.

    Batches: with flash attention, resumes are packed into one padding-free row per batch
    with position ids restarting at every resume (transformers'
    ``DataCollatorWithFlattening``); packing gives the same losses as padded batches of the
    same resumes (up to rounding). Otherwise batches are padded; with ``batch_tokens`` they
    hold resumes of similar length, so that little is padded.

    Before training, the memory of a step (weights, gradients, AdamW state, activations of
    the largest batch) is estimated and a run that cannot fit the GPU is refused.

    Multi-GPU: run the same script under ``torchrun --nproc_per_node=N script.py`` or
    ``accelerate launch script.py``; the Trainer uses DistributedDataParallel and
    ``batch_size`` (or ``batch_tokens``) is per device.

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
        Per-device batch size (resumes; also the evaluation batch size) and accumulation.
    batch_tokens : int, optional
        Token budget of a per-device batch, instead of a fixed number of resumes: batches
        hold as many resumes as fit (real tokens when packing, padded tokens otherwise,
        with resumes of similar length grouped), so that every step does about the same
        work with little padding. The batches are formed once and visited in a new random
        order every epoch: meant for large panels; on a few hundred resumes the fixed,
        length-sorted batches can train worse than random ones (the demo's model reached
        test perplexity 4.72 with length-grouped batches, 4.18 with random ones).
    loss_on : {"all", "titles"}
        Loss on every token, or on the title-plus-terminator tokens only.
    output_dir : path-like
        Trainer checkpoints go to ``output_dir/checkpoint-*``; the returned model is
        saved to ``output_dir/best``.
    seed : int
        Seed of initialization of adapters and data order.
    bf16 : bool, optional
        bfloat16 autocast. Default: only for float32 weights on a GPU that supports
        bfloat16; weights already in bfloat16 (the default of :func:`load_lm` on such
        GPUs) are trained without autocast, which would only slow training down.
    gradient_checkpointing : bool, optional
        Default: on when training on a CUDA GPU, off on CPU.
    packing : bool or "auto"
        Pack resumes into padding-free batches. ``"auto"``: with flash attention
        (``lm.model.set_attn_implementation("flash_attention_2")`` where installed), whose
        kernels attend within each resume; otherwise padded batches, which are faster
        than a packed row under sdpa's block-diagonal mask. ``True`` packs with
        sdpa and eager attention too (exact, slower); ``False`` never packs.
    check_memory : bool
        Refuse (``MemoryError``) a run whose estimated memory exceeds the GPU's free
        memory before training starts; the estimate is a guide, not a guarantee.
    resume : bool
        Resume from the last checkpoint in ``output_dir`` when there is one, if the same
        run wrote it: the same starting weights, panels, template and settings (a
        fingerprint, ``labor_econ_run.json``, is saved in every checkpoint); a checkpoint of
        another run is refused with what differs. ``False`` deletes the checkpoints and
        ``best`` folder in ``output_dir`` (nothing else) and trains from the start.
    progress : bool, optional
        Show the progress bar (on a terminal and in notebooks) and print the losses of
        every epoch. Default: the bar when stderr is a terminal or in a notebook, the
        epoch losses always; ``False`` silences both.
    callbacks : list of transformers.TrainerCallback, optional
        Further callbacks for the Trainer (early stopping, logging).
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

    Raises
    ------
    MemoryError
        If the run is estimated not to fit the GPU (see ``check_memory``).
    RunMismatchError
        If ``resume`` is True and ``output_dir`` holds checkpoints of another run.

    Examples
    --------
    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.demo import demo_lm
    >>> fit_panel, test = wage_panel().split(test_size=0.2, seed=0)
    >>> train, val = fit_panel.split(test_size=0.1, seed=0)
    >>> lm = demo_lm(train, val)  # the demo's tiny Llama (cached)
    >>> import tempfile
    >>> from labor_econ import finetune
    >>> tuned = finetune(lm, train.subset(train.persons[:40]), val=val.subset(val.persons[:10]),
    ...                  epochs=1, output_dir=tempfile.mkdtemp(), progress=False)
    >>> tuned.template.name, len(tuned.taxonomy)
    ('labor_llm', 9)
    """
    from transformers import PrinterCallback, TrainingArguments
    from transformers.trainer_utils import get_last_checkpoint

    _check_arguments(
        train=train,
        val=val,
        epochs=epochs,
        batch_size=batch_size,
        gradient_accumulation_steps=gradient_accumulation_steps,
        max_length=max_length,
        learning_rate=learning_rate,
        warmup_ratio=warmup_ratio,
        weight_decay=weight_decay,
        resume=resume,
        output_dir=output_dir,
    )
    if method not in ("full", "lora"):
        raise ValueError(f"method must be 'full' or 'lora', got {method!r}")
    if val is not None and set(val.persons) & set(train.persons):
        raise ValueError("train and val share persons; split by person (panel.split)")
    template = ResumeTemplate.coerce(template)
    tokenizer = lm.tokenizer
    output_dir = Path(output_dir)
    cuda = lm.device.type == "cuda"
    gradient_checkpointing = cuda if gradient_checkpointing is None else gradient_checkpointing
    if learning_rate is None:
        learning_rate = 2e-4 if method == "lora" else 2e-5

    data = {"loss_on": loss_on, "max_length": max_length}
    train_ds = ResumeDataset(train, tokenizer, template, **data)
    val_ds = ResumeDataset(val, tokenizer, template, **data) if val is not None else None
    if val_ds is not None:  # the validation loss does not depend on the order: least padding
        order = sorted(range(len(val_ds)), key=val_ds.lengths.__getitem__)
        val_ds = torch.utils.data.Subset(val_ds, order)

    # Before training touches the weights: the starting point is part of the run's identity.
    fingerprint = run_fingerprint(
        lm,
        train,
        val,
        template,
        dict(
            epochs=epochs, method=method, learning_rate=learning_rate, batch_size=batch_size,
            batch_tokens=batch_tokens, gradient_accumulation_steps=gradient_accumulation_steps,
            loss_on=loss_on, seed=seed, warmup_ratio=warmup_ratio, weight_decay=weight_decay,
            max_length=max_length, lora=[lora_r, lora_alpha, lora_dropout] if method == "lora"
            else None, bf16=bf16, packing=packing, training_args=training_args,
        ),
    )  # fmt: skip
    last = get_last_checkpoint(str(output_dir)) if resume and output_dir.is_dir() else None
    if last is not None:
        check_resumable(last, fingerprint)  # before any change to the model or the folder

    model = lm.model
    model.train()
    # No cache in training: it is never read, and transformers only detects packed
    # sequences (position ids restarting) when there is none.
    model.config.use_cache = False
    if gradient_checkpointing:
        # Enabled on the model rather than through TrainingArguments, whose flag is being
        # renamed across transformers 5.x releases. Non-reentrant checkpointing also works
        # with frozen embeddings (LoRA).
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    trainable = {name: p.requires_grad for name, p in model.named_parameters()}
    if method == "lora":
        model = _lora(model, lora_r, lora_alpha, lora_dropout)

    packed = resolve_packing(model, packing)
    if bf16 is None:
        bf16_ok = cuda and torch.cuda.is_bf16_supported()
        bf16 = autocast_dtype(lm.dtype, lm.device, bf16_supported=bf16_ok) is not None
    sampler = None
    if batch_tokens is not None:
        sampler = TokenBudgetBatchSampler(
            train_ds.lengths, batch_tokens, padded=not packed, seed=seed, ids=train_ds.ids
        )
    if check_memory and not _sharded(training_args):
        rows = _largest_batch(train_ds.lengths, batch_size, batch_tokens, packed)
        need = estimate_training_memory(
            model,
            rows=rows,
            gradient_checkpointing=gradient_checkpointing,
            compute_dtype=torch.bfloat16 if bf16 else None,
            lora=method == "lora" and lora_dropout > 0,
        )
        try:
            check_training_memory(need, _available_memory(lm.device, model), str(lm.device))
        except MemoryError:
            if method == "lora":  # give the caller back the model as it came
                for name, p in model.unload().named_parameters():
                    p.requires_grad_(trainable[name])
            raise

    world = int(os.environ.get("WORLD_SIZE", "1"))
    batches = len(sampler) if sampler is not None else math.ceil(len(train_ds) / batch_size)
    steps_per_epoch = math.ceil(math.ceil(batches / world) / gradient_accumulation_steps)
    total_steps = steps_per_epoch * epochs

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
        bf16=bool(bf16),
        disable_tqdm=not (progress if progress is not None else _interactive()),
        use_cpu=not cuda,
        remove_unused_columns=False,
        # Real tokens: a packed batch has no padding; a padded one counts its mask.
        include_num_input_tokens_seen="all" if packed else "non_padding",
    )
    args = TrainingArguments(**{**settings, **training_args})
    pad_id = tokenizer.pad_token_id
    if pad_id is None:
        pad_id = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0
    flash = str(getattr(model.config, "_attn_implementation", "")).startswith("flash")
    trainer = _resume_trainer()(
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=val_ds,
        data_collator=packed_collator(flash) if packed else pad_collator(pad_id),
        callbacks=[
            _epoch_losses(progress is not False),
            _fingerprints(fingerprint),
            *(callbacks or []),
        ],
        batch_sampler=sampler,
        eval_collator=pad_collator(pad_id),
    )
    # The epoch lines above replace the Trainer's raw log dicts printed without a bar.
    trainer.remove_callback(PrinterCallback)
    if not resume:  # a fresh start: no checkpoint of an earlier run may be mixed in
        if trainer.is_world_process_zero():
            clear_run(output_dir)
        trainer.accelerator.wait_for_everyone()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*use_cache=True.*gradient checkpointing.*")
        result = trainer.train(resume_from_checkpoint=last)

    best = trainer.model
    if method == "lora":
        best = best.merge_and_unload()
    best.config.use_cache = True
    best_dir = output_dir / "best"
    if trainer.is_world_process_zero():
        best.save_pretrained(best_dir)
        tokenizer.save_pretrained(best_dir)
        _write_history(best_dir, trainer, result.metrics, packed=packed)
        write_fingerprint(best_dir, fingerprint)
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
    _release(trainer)
    return load_lm(best_dir, dtype=lm.dtype, device=lm.device)


def _check_arguments(*, train: Any, val: Any, resume: Any, output_dir: Any, **values: Any) -> None:
    """Refuse malformed arguments before any work, naming them (not a ZeroDivisionError or
    the optimizer's "Invalid learning rate" after the data are tokenized)."""
    for label, panel in (("train", train), ("val", val)):
        if not (panel is None and label == "val") and not isinstance(panel, CareerPanel):
            raise TypeError(f"{label} must be a CareerPanel, got {type(panel).__name__}")
    if not isinstance(resume, bool):
        raise ValueError(f"resume must be True or False, got {resume!r}")
    for label in ("epochs", "batch_size", "gradient_accumulation_steps", "max_length"):
        value = values[label]
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{label} must be a positive integer, got {value!r}")
    lr = values["learning_rate"]
    if lr is not None and (
        isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not math.isfinite(lr) or lr <= 0
    ):
        raise ValueError(f"learning_rate must be a positive number, got {lr!r}")
    warmup, decay = values["warmup_ratio"], values["weight_decay"]
    if isinstance(warmup, bool) or not isinstance(warmup, numbers.Real) or not 0 <= warmup <= 1:
        raise ValueError(f"warmup_ratio must be a number in [0, 1], got {warmup!r}")
    if isinstance(decay, bool) or not isinstance(decay, numbers.Real) or not decay >= 0:
        raise ValueError(f"weight_decay must be a number >= 0, got {decay!r}")
    if Path(output_dir).exists() and not Path(output_dir).is_dir():
        raise ValueError(f"output_dir {os.fspath(output_dir)} is a file, not a folder")


def _release(trainer: Any) -> None:
    """Free the optimizer state and cached blocks before the best weights are loaded."""
    import gc

    trainer.accelerator.free_memory()
    trainer.optimizer = trainer.lr_scheduler = None
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _largest_batch(
    lengths: list[int], batch_size: int, batch_tokens: int | None, packed: bool
) -> list[int]:
    """Sequence lengths of the largest micro-batch a run can meet (for the memory check)."""
    longest = max(lengths, default=0)
    if batch_tokens is None:
        rows = [longest] * min(batch_size, len(lengths))
        return [sum(rows)] if packed else rows
    # a packed row holds up to the budget; padded rows x width <= budget, one row at worst
    return [batch_tokens]


def _sharded(training_args: dict[str, Any]) -> bool:
    """Whether weights and optimizer state are sharded across GPUs (FSDP, DeepSpeed), which
    the per-device memory estimate does not model."""
    if training_args.get("fsdp") or training_args.get("deepspeed"):
        return True
    flags = ("ACCELERATE_USE_FSDP", "ACCELERATE_USE_DEEPSPEED")
    return any(os.environ.get(flag, "").lower() in ("1", "true") for flag in flags)


def _available_memory(device: torch.device, model: Any) -> int | None:
    """Bytes the run may use on ``device`` (None on CPU); tests replace it."""
    return available_memory(device, model)


def _resume_trainer() -> type:
    """The Trainer, with a token-budget batch sampler and padded evaluation batches."""
    from transformers import Trainer

    class ResumeTrainer(Trainer):
        def __init__(self, *args: Any, batch_sampler=None, eval_collator=None, **kwargs: Any):
            super().__init__(*args, **kwargs)
            self._batch_sampler = batch_sampler
            self._eval_collator = eval_collator

        def get_train_dataloader(self):
            if self._batch_sampler is None:
                return super().get_train_dataloader()
            loader = torch.utils.data.DataLoader(
                self.train_dataset,
                batch_sampler=self._batch_sampler,
                collate_fn=self.data_collator,
                num_workers=self.args.dataloader_num_workers,
                pin_memory=self.args.dataloader_pin_memory,
            )
            return self.accelerator.prepare(loader)

        def get_eval_dataloader(self, eval_dataset=None):
            # Evaluation batches are padded whatever the training batches, so that every
            # row is one resume (see prediction_step).
            collator, self.data_collator = self.data_collator, self._eval_collator
            try:
                return super().get_eval_dataloader(eval_dataset)
            finally:
                self.data_collator = collator

        def evaluation_loop(self, *args: Any, **kwargs: Any):
            self._eval_sums: list[torch.Tensor] = []
            output = super().evaluation_loop(*args, **kwargs)
            prefix = kwargs.get("metric_key_prefix", args[4] if len(args) > 4 else "eval")
            if self._eval_sums:
                nll, count = torch.cat(self._eval_sums).sum(0).tolist()
                output.metrics[f"{prefix}_loss"] = nll / max(count, 1.0)
            return output

        def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
            # The validation loss is the mean over all target tokens of the validation
            # resumes, whatever the batching and the number of processes (the Trainer
            # would average batch means weighted by rows). Per-resume sums are gathered
            # with gather_for_metrics, which drops the resumes repeated to even out the
            # last batch across processes.
            inputs = self._prepare_inputs(inputs)
            labels = inputs["labels"]
            with torch.no_grad(), self.compute_loss_context_manager():  # autocast if any
                features = {k: v for k, v in inputs.items() if k != "labels"}
                logits = model(**features).logits[:, :-1]
                target = labels[:, 1:]
                nll = torch.nn.functional.cross_entropy(
                    logits.float().transpose(1, 2), target, ignore_index=IGNORE, reduction="none"
                )
                sums = torch.stack([nll.sum(1), (target != IGNORE).sum(1).to(nll.dtype)], 1)
            self._eval_sums.append(self.accelerator.gather_for_metrics(sums).double().cpu())
            return sums[:, 0].sum() / sums[:, 1].sum().clamp_min(1), None, None

    return ResumeTrainer


def _epoch_losses(print_losses: bool) -> Any:
    """A callback printing the train and validation loss of every epoch (main process)."""
    from transformers import TrainerCallback

    class EpochLosses(TrainerCallback):
        train_loss: float | None = None

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not print_losses or not state.is_world_process_zero or not logs:
                return
            epoch = round(logs.get("epoch", state.epoch or 0))
            if "loss" in logs:
                self.train_loss = logs["loss"]
                if args.eval_strategy == "no":
                    _say(f"epoch {epoch}: train loss {logs['loss']:.4f}")
            if "eval_loss" in logs:
                train = "" if self.train_loss is None else f"train loss {self.train_loss:.4f}, "
                _say(f"epoch {epoch}: {train}validation loss {logs['eval_loss']:.4f}")

    return EpochLosses()


def _fingerprints(fingerprint: dict[str, Any]) -> Any:
    """A callback saving the run's fingerprint in every checkpoint it writes."""
    from transformers import TrainerCallback

    class Fingerprints(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if state.is_world_process_zero and folder.is_dir():
                write_fingerprint(folder, fingerprint)

    return Fingerprints()


def _say(line: str) -> None:
    from tqdm.auto import tqdm

    tqdm.write(line)  # keeps an open progress bar intact


def _write_history(path: Path, trainer: Any, metrics: dict[str, Any], *, packed: bool) -> None:
    """Record the epoch losses and which checkpoint was kept, next to the weights."""
    import json

    state = trainer.state
    epochs: dict[int, dict[str, float]] = {}
    for entry in state.log_history:
        if "epoch" not in entry:
            continue
        row = epochs.setdefault(round(entry["epoch"]), {"epoch": round(entry["epoch"])})
        if "loss" in entry:
            row["train_loss"] = entry["loss"]
        if "eval_loss" in entry:
            row["val_loss"] = entry["eval_loss"]
    per_epoch = [epochs[k] for k in sorted(epochs) if len(epochs[k]) > 1]
    scored = [row for row in per_epoch if "val_loss" in row]
    best = min(scored, key=lambda row: row["val_loss"]) if scored else None
    record = {
        "epochs": per_epoch,
        "best_epoch": best["epoch"] if best else (per_epoch[-1]["epoch"] if per_epoch else None),
        "best_model_checkpoint": state.best_model_checkpoint,
        "best_metric": state.best_metric,
        "packed": packed,
        "train_runtime": metrics.get("train_runtime"),
        "train_tokens": state.num_input_tokens_seen,
        "log_history": state.log_history,
    }
    (path / "training_history.json").write_text(json.dumps(record, indent=1))


def _interactive() -> bool:
    """Whether a progress bar can be seen: a terminal, or a Jupyter notebook."""
    import sys

    from transformers.utils import is_in_notebook

    return sys.stderr.isatty() or is_in_notebook()
