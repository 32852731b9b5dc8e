"""Load causal-LM checkpoints (Hugging Face Hub ids or local directories) with their tokenizers."""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError

from ..errors import LMLoadError

__all__ = [
    "CausalLM",
    "LMLoadError",
    "load_lm",
    "resolve_device",
    "resolve_dtype",
    "unsafe_weight_files",
]

_DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}
_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer.model",
    "vocab.json",
    "vocab.txt",
    "tiktoken.model",
)
_CAUSAL_SUFFIXES = ("ForCausalLM", "LMHeadModel")


@dataclass
class CausalLM:
    """A causal language model in evaluation mode, with its tokenizer.

    Attributes
    ----------
    model : transformers.PreTrainedModel
        The model (``AutoModelForCausalLM``), in ``eval()`` mode on `device`.
    tokenizer : transformers.PreTrainedTokenizerBase
        The tokenizer saved with the checkpoint.
    device : torch.device
        Where the model's parameters live.
    name : str
        The hub id, with the subfolder appended when there is one
        (``"tianyudu/LABOR_LLM/ft_7b_NLSY79_with_birth_year_ckpt_bo5"``), or the local directory.
    template : ResumeTemplate or None
        The resume template saved with the checkpoint by :func:`labor_econ.finetune`
        (``labor_econ_template.json``); None when the checkpoint has none.
    taxonomy : Taxonomy or None
        The training taxonomy saved with the checkpoint (``labor_econ_taxonomy.csv``): the
        titles spelled as the model saw them; None when absent.

    Examples
    --------
    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.demo import demo_lm
    >>> fit_panel, test = wage_panel().split(test_size=0.2, seed=0)
    >>> train, val = fit_panel.split(test_size=0.1, seed=0)
    >>> lm = demo_lm(train, val)  # the demo's tiny Llama (cached)
    >>> lm.model.config.model_type, lm.device.type, lm.dtype
    ('llama', 'cpu', torch.float32)
    >>> ids = lm.tokenizer("1981: Sales workers")["input_ids"]
    >>> ids[0] == lm.tokenizer.bos_token_id
    True
    """

    model: Any
    tokenizer: Any
    device: torch.device
    name: str
    template: Any = None
    taxonomy: Any = None

    @property
    def dtype(self) -> torch.dtype:
        """Data type of the model's parameters."""
        return self.model.dtype

    def __repr__(self) -> str:
        n_params = sum(p.numel() for p in self.model.parameters())
        return (
            f"CausalLM(name={self.name!r}, architecture={type(self.model).__name__}, "
            f"parameters={n_params:,}, dtype={self.dtype}, device={self.device})"
        )


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn ``"auto"`` (CUDA when available, else CPU) or a device spec into a ``torch.device``.

    Parameters
    ----------
    device : str or torch.device, default "auto"
        ``"auto"``, or anything ``torch.device`` accepts (``"cpu"``, ``"cuda:1"``).

    Returns
    -------
    torch.device
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise LMLoadError(
            f"device={device!r} is not a device ({err}); use 'auto', 'cpu', 'cuda' or 'cuda:N'"
        ) from None
    # Checked here, before any loading: torch would fail only when the weights are moved,
    # with "Torch not compiled with CUDA enabled" (an AssertionError) or an invalid ordinal.
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise LMLoadError(
                f"device={device!r}, but no CUDA GPU is available here (torch "
                f"{torch.__version__}, CUDA build {torch.version.cuda or 'none'}); use "
                "device='cpu' or 'auto'"
            )
        count = torch.cuda.device_count()
        if resolved.index is not None and resolved.index >= count:
            raise LMLoadError(
                f"device={device!r}, but only {count} CUDA GPU(s) are visible (cuda:0 .. "
                f"cuda:{count - 1}); check CUDA_VISIBLE_DEVICES"
            )
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise LMLoadError(f"device={device!r}, but MPS is not available here; use device='cpu'")
    return resolved


def resolve_dtype(
    dtype: str | torch.dtype = "auto", device: torch.device | None = None
) -> torch.dtype:
    """Turn a dtype spec into a ``torch.dtype``.

    Parameters
    ----------
    dtype : str or torch.dtype, default "auto"
        ``"auto"`` (bfloat16 on CUDA GPUs that support it, float16 on older GPUs, float32
        elsewhere), ``"float32"``, ``"bfloat16"``, ``"float16"``, or a ``torch.dtype``.
    device : torch.device, optional
        The device the model will run on; used by ``"auto"``.

    Returns
    -------
    torch.dtype

    Raises
    ------
    ValueError
        For an unknown name.
    """
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype == "auto":
        if device is not None and device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    try:
        return _DTYPES[str(dtype).lower()]
    except KeyError:
        raise ValueError(
            f"unknown dtype {dtype!r}: use 'auto', 'float32', 'bfloat16', 'float16' or a "
            "torch.dtype"
        ) from None


def _looks_like_path(name: str) -> bool:
    return (
        os.path.isabs(name)
        or name.startswith((".", "~"))
        or "\\" in name
        or name.endswith("/")
        or os.path.exists(name)
    )


#: Suffixes of pickle-based weight files (torch.save, pickle); loading them can run code.
_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
#: Trainer state saved next to checkpoints; ``from_pretrained`` never reads these files.
_TRAINER_STATE = ("training_args.bin", "optimizer.pt", "scheduler.pt", "scaler.pt")
_PICKLE_ADVICE = (
    "convert them to safetensors (load once in a trusted session and "
    "save_pretrained(..., safe_serialization=True)), or pass allow_pickle=True if you trust the "
    "source"
)


def _is_trainer_state(name: str) -> bool:
    return name in _TRAINER_STATE or (name.startswith("rng_state") and name.endswith(".pth"))


def _is_safetensors(path: Path) -> bool:
    """Whether ``path`` has a safetensors header: a little-endian u64 length, then a JSON object."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(9)
    except OSError:
        return False
    if len(head) < 9:
        return False
    (length,) = struct.unpack("<Q", head[:8])
    return head[8:9] == b"{" and 8 + length <= size


def _damaged_safetensors(path: Path) -> str | None:
    """Why a file that starts like safetensors cannot be one (empty, truncated), else None."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(9)
    except OSError as err:
        return f"cannot be read ({err.strerror or err})"
    if size == 0:
        return "is empty"
    if len(head) < 9:
        return f"is {size} bytes, shorter than a safetensors header"
    (length,) = struct.unpack("<Q", head[:8])
    if head[8:9] == b"{" and 8 + length > size:
        return f"is truncated: its header alone is {8 + length} bytes, the file {size}"
    return None


def _index_problems(index: Path, weight_map: Any, root: Path) -> list[str]:
    """Files an index names that are not safetensors inside ``root`` (for a local index)."""
    if not isinstance(weight_map, dict):
        return [f"{index.name} has no weight_map object"]
    problems = []
    for shard in sorted({str(v) for v in weight_map.values()}):
        target = (index.parent / shard).resolve()
        if not shard.endswith(".safetensors"):
            problems.append(f"{index.name} names {shard!r}, which is not a .safetensors file")
        elif os.path.isabs(shard) or not target.is_relative_to(root.resolve()):
            problems.append(f"{index.name} names {shard!r}, outside the checkpoint directory")
        elif target.exists() and not _is_safetensors(target):
            problems.append(f"{index.name} names {shard!r}, which is not in safetensors format")
    return problems


def _read_index(path: Path) -> Any:
    try:
        return json.loads(path.read_text()).get("weight_map")
    except (OSError, ValueError, AttributeError) as err:
        raise LMLoadError(f"{str(path)!r} is not a readable weights index: {err}") from err


def unsafe_weight_files(directory: str | os.PathLike[str]) -> list[str]:
    """Weight files in a checkpoint directory that are not safetensors, with the reason.

    Every ``*.safetensors`` file must have a safetensors header, every file that an index
    (``*.index.json``) names must be a safetensors file inside the directory, and no
    pickle weights (``*.bin``, ``*.pt``, ``*.pth``, ``*.ckpt``, ``*.pkl``) may be present;
    Trainer state files that ``from_pretrained`` never reads (``training_args.bin``,
    ``optimizer.pt``, ...) are ignored.

    Parameters
    ----------
    directory : path-like
        The checkpoint directory (with the subfolder already applied).

    Returns
    -------
    list of str
        One line per problem; empty when only safetensors weights would be read.
    """
    directory = Path(directory)
    problems = []
    for path in sorted(p for p in directory.iterdir() if p.is_file()):
        name = path.name
        if name.endswith(".index.json"):
            problems += _index_problems(path, _read_index(path), directory)
        elif name.endswith(".safetensors") and not _is_safetensors(path):
            problems.append(f"{name} is not in safetensors format")
        elif name.endswith(_PICKLE_SUFFIXES) and not _is_trainer_state(name):
            problems.append(f"{name} is a pickle file")
    return problems


def _weight_files(directory: Path) -> list[str]:
    if not directory.is_dir():
        return []
    return sorted(
        p.name
        for p in directory.iterdir()
        if p.name.endswith((".safetensors", ".index.json", *_PICKLE_SUFFIXES))
        and not _is_trainer_state(p.name)
    )


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _check_local_dir(directory: Path, allow_pickle: bool) -> None:
    """Fail early, with advice, on the usual problems of a local checkpoint directory."""
    if not directory.is_dir():
        raise LMLoadError(
            f"no checkpoint directory at {str(directory)!r}: pass an existing directory written by "
            "save_pretrained(), or a Hugging Face Hub id such as 'owner/name'"
        )
    files = {p.name for p in directory.iterdir() if p.is_file()}
    if "config.json" not in files:
        raise LMLoadError(
            f"{str(directory)!r} has no config.json, so it is not a transformers checkpoint; "
            "save the model there with model.save_pretrained(directory)"
        )
    has_safetensors = any(f.endswith(".safetensors") for f in files) or (
        "model.safetensors.index.json" in files
    )
    pickles = sorted(f for f in files if f.endswith(_PICKLE_SUFFIXES) and not _is_trainer_state(f))
    if not has_safetensors and pickles and not allow_pickle:
        raise LMLoadError(
            f"{str(directory)!r} holds only pickle weights ({', '.join(pickles)}), which can run "
            f"arbitrary code when loaded: {_PICKLE_ADVICE}"
        )
    if not has_safetensors and not pickles:
        raise LMLoadError(
            f"{str(directory)!r} has a config.json but no weights (*.safetensors): save the model "
            "there with model.save_pretrained(directory)"
        )
    damaged = [
        f"{name} {why}"
        for name in sorted(f for f in files if f.endswith(".safetensors"))
        if (why := _damaged_safetensors(directory / name)) is not None
    ]
    if damaged:
        raise LMLoadError(
            f"{str(directory)!r} has damaged weight files: {'; '.join(damaged)}. Download or "
            "save the checkpoint again"
        )
    if not allow_pickle:
        problems = unsafe_weight_files(directory)
        if problems:
            raise LMLoadError(
                f"{str(directory)!r} has weight files that are not safetensors, which can run "
                f"arbitrary code when loaded: {'; '.join(problems)}. Remove them, " + _PICKLE_ADVICE
            )
    if not any(f in files for f in _TOKENIZER_FILES):
        raise LMLoadError(
            f"{str(directory)!r} has no tokenizer files (expected one of "
            f"{', '.join(_TOKENIZER_FILES)}): save the tokenizer next to the model with "
            "tokenizer.save_pretrained(directory)"
        )


def _check_hub_index(repo: str, subfolder: str | None, revision: str | None, display: str) -> None:
    """Refuse a hub checkpoint whose safetensors index names anything but safetensors.

    Runs before the weights are downloaded. Only the small index file is fetched (or read
    from the local cache); a repository without an index has a single ``model.safetensors``,
    which is all ``use_safetensors=True`` downloads.
    """
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, LocalEntryNotFoundError

    try:
        index = hf_hub_download(
            repo, "model.safetensors.index.json", subfolder=subfolder, revision=revision
        )
    except (EntryNotFoundError, LocalEntryNotFoundError, HfHubHTTPError, OSError):
        return  # no index (or unreachable, then loading the weights fails with its own error)
    weight_map = _read_index(Path(index))
    if not isinstance(weight_map, dict):
        raise LMLoadError(f"{display!r}: model.safetensors.index.json has no weight_map object")
    bad = sorted(
        {
            str(v)
            for v in weight_map.values()
            if not str(v).endswith(".safetensors")
            or str(v).startswith(("/", ".."))
            or ".." in str(v).split("/")
        }
    )
    if bad:
        raise LMLoadError(
            f"{display!r}: model.safetensors.index.json names weight files that are not "
            f"safetensors inside the repository ({', '.join(map(repr, bad))}), which can run "
            f"arbitrary code when loaded; nothing was downloaded. Pass allow_pickle=True only if "
            "you trust the source"
        )


def _check_causal_config(config: Any, name: str) -> None:
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING,
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
    )

    architectures = list(getattr(config, "architectures", None) or [])
    causal_classes = set(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.values())
    reason = None
    if getattr(config, "is_encoder_decoder", False):
        reason = "it is an encoder-decoder model"
    elif type(config) not in MODEL_FOR_CAUSAL_LM_MAPPING:
        reason = f"transformers has no causal-LM class for model_type {config.model_type!r}"
    elif architectures and not any(
        a in causal_classes or a.endswith(_CAUSAL_SUFFIXES) for a in architectures
    ):
        reason = f"it was saved as {', '.join(architectures)}, not as a causal LM"
    if reason is not None:
        raise LMLoadError(
            f"{name!r} is not a causal language model: {reason}. Pass a decoder-only checkpoint "
            "(e.g. a Llama fine-tune) saved with AutoModelForCausalLM"
        )


def _hub_error(name: str, what: str, err: Exception, allow_pickle: bool) -> LMLoadError:
    from huggingface_hub import constants

    text = str(err).strip().splitlines()[0].rstrip(".") if str(err).strip() else type(err).__name__
    advice = (
        "The weights must be reachable: check the network and the id/subfolder/revision, or "
        "download the checkpoint once and set HF_HUB_OFFLINE=1 to load it from the local cache, "
        "or pass a local directory written by save_pretrained()"
    )
    if constants.HF_HUB_OFFLINE:
        advice = (
            "HF_HUB_OFFLINE is set and the files are not in the local Hugging Face cache: download "
            "them once with the network on, or pass a local directory written by save_pretrained()"
        )
    if "safetensors" in str(err) and not allow_pickle:
        advice += (
            ". If the repository only has pickle weights (pytorch_model.bin), pass "
            "allow_pickle=True if you trust the source"
        )
    if not os.path.isabs(name) and not os.path.exists(name):
        advice += f" (there is no local directory {name!r} either)"
    return LMLoadError(f"could not load the {what} of {name!r}: {text}. {advice}")


def load_lm(
    name_or_path: str | os.PathLike,
    *,
    subfolder: str | None = None,
    revision: str | None = None,
    dtype: str | torch.dtype = "auto",
    device: str | torch.device = "auto",
    allow_pickle: bool = False,
) -> CausalLM:
    """Load a causal language model and its tokenizer.

    Parameters
    ----------
    name_or_path : str or os.PathLike
        A local directory written by ``save_pretrained``, or a Hugging Face Hub id
        (``"tianyudu/LABOR_LLM"``). A hub id followed by a path
        (``"tianyudu/LABOR_LLM/ft_7b_NLSY79_with_birth_year_ckpt_bo5"``, the form of
        ``CausalLM.name``) is read as id plus `subfolder`.
    subfolder : str, optional
        Folder of the checkpoint inside the repository or directory.
    revision : str, optional
        Branch, tag or commit of a hub repository.
    dtype : str or torch.dtype, default "auto"
        See `resolve_dtype`: bfloat16 on CUDA GPUs that support it, float32 on CPU.
    device : str or torch.device, default "auto"
        CUDA when available, else CPU.
    allow_pickle : bool, default False
        Accept pickle weights (``pytorch_model.bin``), which can execute code when loaded.
        By default only safetensors are read: a local directory with any pickle weights, a
        ``*.safetensors`` file that is not one, or an index (``*.index.json``) that names
        anything else is refused before loading (see `unsafe_weight_files`); for a hub id
        the index is checked before the weights are downloaded. Remote code is never trusted.

    Returns
    -------
    CausalLM
        The model in ``eval()`` mode on `device`, with its tokenizer, and the template and
        taxonomy saved with it by :func:`labor_econ.finetune` (``lm.template``,
        ``lm.taxonomy``; None when the checkpoint has none). Taxonomy codes are read back as
        integers when all are written as integers, else as strings.

    Raises
    ------
    LMLoadError
        With what went wrong and what to do: missing directory, missing tokenizer files, a
        config that is not a causal LM, only pickle weights while ``allow_pickle=False``, or
        an unreachable hub.

    See Also
    --------
    labor_econ.lm.testing.tiny_lm : build a small local checkpoint for tests.

    Examples
    --------
    >>> from labor_econ.datasets import wage_panel
    >>> from labor_econ.demo import demo_lm
    >>> fit_panel, test = wage_panel().split(test_size=0.2, seed=0)
    >>> train, val = fit_panel.split(test_size=0.1, seed=0)
    >>> lm = demo_lm(train, val)  # the demo's tiny Llama (cached)
    >>> import tempfile
    >>> from labor_econ import load_lm
    >>> path = tempfile.mkdtemp()
    >>> lm.model.save_pretrained(path)
    >>> lm.tokenizer.save_pretrained(path)  # doctest: +ELLIPSIS
    (...)
    >>> again = load_lm(path, dtype="float32", device="cpu")
    >>> again.model.num_parameters() == lm.model.num_parameters()
    True

    A released checkpoint from the Hugging Face Hub (needs the weights and, in practice, a GPU):

    >>> lm = load_lm("tianyudu/LABOR_LLM",
    ...              subfolder="ft_7b_NLSY79_with_birth_year_ckpt_bo5")  # doctest: +SKIP
    """
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    name = os.fspath(name_or_path)
    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, torch_device)
    local = _looks_like_path(name)
    if local:
        directory = Path(name).expanduser()
        _check_local_dir(directory / subfolder if subfolder else directory, allow_pickle)
        source, display = str(directory), str(directory / subfolder) if subfolder else name
    else:
        parts = name.strip("/").split("/")
        if len(parts) > 2 and subfolder is None:
            name, subfolder = "/".join(parts[:2]), "/".join(parts[2:])
        source, display = name, f"{name}/{subfolder}" if subfolder else name
        if not allow_pickle:
            _check_hub_index(name, subfolder, revision, display)

    kwargs: dict[str, Any] = {"revision": revision, "trust_remote_code": False}
    if subfolder:
        kwargs["subfolder"] = subfolder
    try:
        config = AutoConfig.from_pretrained(source, **kwargs)
    except OSError as err:
        if local:
            raise LMLoadError(f"could not read the config of {display!r}: {err}") from err
        raise _hub_error(display, "config", err, allow_pickle) from err
    except (ValueError, KeyError) as err:
        raise LMLoadError(
            f"{display!r} has a config transformers cannot read ({err}); upgrade transformers or "
            "pass a checkpoint of a supported architecture"
        ) from err
    _check_causal_config(config, display)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
    except (OSError, ValueError, TypeError) as err:
        if local or not isinstance(err, OSError):
            raise LMLoadError(
                f"could not load the tokenizer of {display!r}: {err}. Save the tokenizer next to "
                "the model with tokenizer.save_pretrained(directory)"
            ) from err
        raise _hub_error(display, "tokenizer", err, allow_pickle) from err
    try:
        model = AutoModelForCausalLM.from_pretrained(
            source,
            config=config,
            dtype=torch_dtype,
            use_safetensors=None if allow_pickle else True,
            **kwargs,
        )
    except OSError as err:
        if local:
            raise LMLoadError(f"could not load the weights of {display!r}: {err}") from err
        raise _hub_error(display, "weights", err, allow_pickle) from err
    except (RuntimeError, ValueError, KeyError, struct.error, SafetensorError) as err:
        # Damaged weight files (SafetensorError) or weights that do not fit config.json
        # (RuntimeError: size mismatch) would otherwise surface as raw library errors.
        files = _weight_files(Path(source) / (subfolder or "")) if local else []
        raise LMLoadError(
            f"could not load the weights of {display!r}"
            + (f" ({', '.join(files)})" if files else "")
            + f": {type(err).__name__}: {_first_line(err).rstrip('.!')}. The weight files are "
            "damaged or do not match its config.json (another model's weights?)"
        ) from err
    model.to(torch_device)
    model.eval()
    from labor_econ.lm.model_card import read_format

    template, taxonomy = read_format(source, subfolder=subfolder, revision=revision, local=local)
    return CausalLM(
        model=model,
        tokenizer=tokenizer,
        device=torch_device,
        name=display,
        template=template,
        taxonomy=taxonomy,
    )
