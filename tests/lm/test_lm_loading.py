"""Tests of load_lm and of the tiny Llama checkpoints and tokenizers built by tiny_lm."""

from __future__ import annotations

import json
import random
import shutil
from importlib import resources

import pandas as pd
import pytest
import torch

from labor_econ.lm import CausalLM, LMLoadError, load_lm
from labor_econ.lm.loading import resolve_dtype, unsafe_weight_files
from labor_econ.lm.testing import BYTE_TOKENS, SPECIAL_TOKENS, tiny_lm, train_tokenizer


def _titles() -> list[str]:
    with resources.as_file(resources.files("labor_econ") / "data" / "occ1990_ipums.csv") as path:
        return pd.read_csv(path)["title"].tolist()


def _corpus(n: int = 600, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    titles = _titles()
    texts = []
    for _ in range(n):
        year = rng.randint(1979, 2010)
        lines = [f"Born in {year - 20}."]
        lines += [f"{year + j} (age {20 + j}): {rng.choice(titles)}" for j in range(4)]
        texts.append("\n".join(lines) + "\n")
    return texts


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("tiny_lm")
    lm = tiny_lm(path, _corpus(), vocab_size=1024, device="cpu")
    return path, lm


def test_tiny_lm_round_trip(tiny_dir):
    path, lm = tiny_dir
    assert isinstance(lm, CausalLM)
    assert lm.name == str(path)
    assert lm.device == torch.device("cpu")
    assert lm.dtype == torch.float32
    assert not lm.model.training
    files = {p.name for p in path.iterdir()}
    assert "model.safetensors" in files and "tokenizer.json" in files
    assert not any(f.endswith(".bin") for f in files)
    again = load_lm(path, device="cpu")
    ids = torch.tensor([lm.tokenizer("1990 (age 20): Cashiers\n")["input_ids"]])
    with torch.no_grad():
        torch.testing.assert_close(lm.model(ids).logits, again.model(ids).logits)
    assert "LlamaForCausalLM" in repr(lm)


def test_tiny_lm_is_seeded(tmp_path):
    texts = _corpus(100)
    state = torch.random.get_rng_state()
    a = tiny_lm(tmp_path / "a", texts, vocab_size=400, seed=3, device="cpu")
    b = tiny_lm(tmp_path / "b", texts, vocab_size=400, seed=3, device="cpu")
    c = tiny_lm(tmp_path / "c", texts, vocab_size=400, seed=4, device="cpu")
    assert torch.equal(torch.random.get_rng_state(), state)
    wa, wb, wc = (m.model.model.embed_tokens.weight for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)


def test_tokenizer_layout_is_llama2(tiny_dir):
    tok = tiny_dir[1].tokenizer
    vocab = tok.get_vocab()
    for i, token in enumerate(SPECIAL_TOKENS + BYTE_TOKENS):
        assert vocab[token] == i
    assert (tok.unk_token, tok.bos_token, tok.eos_token) == SPECIAL_TOKENS
    learned = [t for t, i in vocab.items() if i >= len(SPECIAL_TOKENS) + len(BYTE_TOKENS)]
    assert learned
    # Pieces never cross a word boundary or hold a newline.
    assert all("▁" not in t[1:] for t in learned)
    assert all("\n" not in t for t in learned)


def _pieces(tok, text: str) -> list[str]:
    return tok.convert_ids_to_tokens(tok(text)["input_ids"])


def test_tokenizer_word_prefix_and_bos(tiny_dir):
    tok = tiny_dir[1].tokenizer
    pieces = _pieces(tok, "Sales workers")
    assert pieces[0] == "<s>"
    assert pieces[1].startswith("▁")  # the first word gets a ▁ too
    assert "".join(pieces[1:]) == "▁Sales▁workers"
    assert _pieces(tok, " Sales workers") == pieces  # as Llama-2: a leading space is the ▁
    assert _pieces(tok, "Occupation: ")[-1] == "▁"


def test_tokenizer_newline_and_byte_fallback(tiny_dir):
    tok = tiny_dir[1].tokenizer
    pieces = _pieces(tok, "Cashiers\n1991")
    assert "<0x0A>" in pieces
    assert pieces[pieces.index("<0x0A>") + 1][0] != "▁"  # no ▁ after a newline, as Llama-2
    assert _pieces(tok, "€")[-3:] == ["<0xE2>", "<0x82>", "<0xAC>"]
    assert tok.unk_token_id not in tok("Café € ☃ naïve 東京")["input_ids"]


@pytest.mark.parametrize(
    "text",
    ["1990 (age 20): Cashiers\n", "Café owners €5\n\n  two  spaces", "Sales workers, n.e.c.\n"],
)
def test_tokenizer_round_trip(tiny_dir, text):
    tok = tiny_dir[1].tokenizer
    assert tok.decode(tok(text)["input_ids"], skip_special_tokens=True) == text


def test_train_tokenizer_rejects_tiny_vocab():
    with pytest.raises(ValueError, match="vocab_size"):
        train_tokenizer(["a b c"], vocab_size=200)


def test_load_dtype_and_device(tiny_dir):
    path, _ = tiny_dir
    assert load_lm(path, dtype="bfloat16", device="cpu").dtype == torch.bfloat16
    assert load_lm(path, dtype=torch.float16, device=torch.device("cpu")).dtype == torch.float16
    assert resolve_dtype("auto", torch.device("cpu")) == torch.float32
    with pytest.raises(ValueError, match="unknown dtype"):
        resolve_dtype("float8")


def test_missing_directory(tmp_path):
    with pytest.raises(LMLoadError, match="no checkpoint directory"):
        load_lm(tmp_path / "nowhere")
    assert issubclass(LMLoadError, ValueError)


def test_missing_tokenizer(tiny_dir, tmp_path):
    path, _ = tiny_dir
    for name in ("config.json", "model.safetensors"):
        shutil.copy(path / name, tmp_path / name)
    with pytest.raises(LMLoadError, match="no tokenizer files.*tokenizer.save_pretrained"):
        load_lm(tmp_path)


def test_missing_weights(tiny_dir, tmp_path):
    path, _ = tiny_dir
    shutil.copy(path / "config.json", tmp_path / "config.json")
    with pytest.raises(LMLoadError, match="no weights"):
        load_lm(tmp_path)


def test_encoder_config_is_rejected(tiny_dir, tmp_path):
    from transformers import BertConfig, BertForMaskedLM

    config = BertConfig(
        vocab_size=100, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32,
    )  # fmt: skip
    BertForMaskedLM(config).save_pretrained(tmp_path)
    tiny_dir[1].tokenizer.save_pretrained(tmp_path)
    with pytest.raises(LMLoadError, match="not a causal language model.*BertForMaskedLM"):
        load_lm(tmp_path)


def test_pickle_weights_need_allow_pickle(tiny_dir, tmp_path):
    path, lm = tiny_dir
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(path / name, tmp_path / name)
    torch.save(lm.model.state_dict(), tmp_path / "pytorch_model.bin")
    with pytest.raises(LMLoadError, match="only pickle weights.*allow_pickle=True"):
        load_lm(tmp_path)
    loaded = load_lm(tmp_path, allow_pickle=True, device="cpu")
    torch.testing.assert_close(loaded.model.lm_head.weight, lm.model.lm_head.weight, rtol=0, atol=0)


def test_unreachable_hub(monkeypatch, tmp_path):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.chdir(tmp_path)
    name = "tianyudu/LABOR_LLM/ft_7b_NLSY79_with_birth_year_ckpt_bo5"
    with pytest.raises(LMLoadError, match="HF_HUB_OFFLINE") as info:
        load_lm(name)
    assert name in str(info.value)
    assert "local directory" in str(info.value)


def _copy_tokenizer_and_config(src, dst):
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(src / name, dst / name)


@pytest.fixture
def torch_load_spy(monkeypatch):
    """Record every torch.load call: none may happen when a checkpoint is refused."""
    calls = []
    original = torch.load

    def spy(*args, **kwargs):
        calls.append(args[0] if args else kwargs.get("f"))
        return original(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    return calls


def test_index_naming_a_pickle_shard_is_refused(tiny_dir, tmp_path, torch_load_spy):
    """The hole of issue 12: a safetensors index naming a .bin shard got torch.load'ed."""
    path, lm = tiny_dir
    _copy_tokenizer_and_config(path, tmp_path)
    torch.save(lm.model.state_dict(), tmp_path / "evil.bin")
    weight_map = {key: "evil.bin" for key in lm.model.state_dict()}
    (tmp_path / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {}, "weight_map": weight_map})
    )
    with pytest.raises(LMLoadError, match=r"evil\.bin.*not a \.safetensors file"):
        load_lm(tmp_path, device="cpu")
    assert torch_load_spy == []
    loaded = load_lm(tmp_path, device="cpu", allow_pickle=True)
    torch.testing.assert_close(loaded.model.lm_head.weight, lm.model.lm_head.weight)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("pickle_beside_safetensors", r"pytorch_model\.bin is a pickle file"),
        ("pickle_named_safetensors", r"model\.safetensors is not in safetensors format"),
        ("index_outside", r"names '\.\./model\.safetensors', outside the checkpoint"),
        ("index_pickle_named_safetensors", r"names 'shard\.safetensors', which is not in"),
        ("adapter_pickle", r"adapter_model\.bin is a pickle file"),
    ],
)
def test_every_weight_file_is_checked(tiny_dir, tmp_path, torch_load_spy, setup, message):
    path, lm = tiny_dir
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    _copy_tokenizer_and_config(path, ckpt)
    shutil.copy(path / "model.safetensors", ckpt / "model.safetensors")
    state = lm.model.state_dict()
    if setup == "pickle_beside_safetensors":
        torch.save(state, ckpt / "pytorch_model.bin")
    elif setup == "pickle_named_safetensors":
        torch.save(state, ckpt / "model.safetensors")
    elif setup == "index_outside":
        (ckpt / "model.safetensors").rename(tmp_path / "model.safetensors")
        index = {"weight_map": {k: "../model.safetensors" for k in state}}
        (ckpt / "model.safetensors.index.json").write_text(json.dumps(index))
    elif setup == "index_pickle_named_safetensors":
        torch.save(state, ckpt / "shard.safetensors.tmp")
        (ckpt / "shard.safetensors.tmp").rename(ckpt / "shard.safetensors")
        (ckpt / "model.safetensors").unlink()
        index = {"weight_map": {k: "shard.safetensors" for k in state}}
        (ckpt / "model.safetensors.index.json").write_text(json.dumps(index))
    elif setup == "adapter_pickle":
        torch.save(state, ckpt / "adapter_model.bin")
    with pytest.raises(LMLoadError, match=message) as info:
        load_lm(ckpt, device="cpu")
    assert str(ckpt) in str(info.value) and "allow_pickle=True" in str(info.value)
    assert torch_load_spy == []


def test_pickle_in_subfolder_is_refused(tiny_dir, tmp_path, torch_load_spy):
    path, lm = tiny_dir
    sub = tmp_path / "ckpt_bo5"
    sub.mkdir()
    _copy_tokenizer_and_config(path, sub)
    torch.save(lm.model.state_dict(), sub / "evil.bin")
    index = {"weight_map": {k: "evil.bin" for k in lm.model.state_dict()}}
    (sub / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(LMLoadError, match="ckpt_bo5.*evil.bin"):
        load_lm(tmp_path, subfolder="ckpt_bo5", device="cpu")
    assert torch_load_spy == []


def test_trainer_state_files_are_not_weights(tiny_dir, tmp_path):
    path, _ = tiny_dir
    shutil.copytree(path, tmp_path / "ckpt")
    torch.save({"lr": 1e-3}, tmp_path / "ckpt" / "training_args.bin")
    torch.save({}, tmp_path / "ckpt" / "optimizer.pt")
    assert unsafe_weight_files(tmp_path / "ckpt") == []
    load_lm(tmp_path / "ckpt", device="cpu")


def test_hub_index_naming_pickle_is_refused_before_download(monkeypatch, tmp_path):
    import huggingface_hub

    index = tmp_path / "model.safetensors.index.json"
    index.write_text(json.dumps({"weight_map": {"lm_head.weight": "pytorch_model-1.bin"}}))
    asked = []

    def fake_download(repo_id, filename, **kwargs):
        asked.append(filename)
        if filename != "model.safetensors.index.json":
            raise AssertionError(f"downloaded {filename}")
        return str(index)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LMLoadError, match=r"pytorch_model-1\.bin.*nothing was downloaded"):
        load_lm("owner/repo", subfolder="ckpt")
    assert asked == ["model.safetensors.index.json"]


# -- broken or mismatched weights and devices: LMLoadError naming the file ---------------------
def _broken_copy(tiny_dir, tmp_path, cut):
    path, _ = tiny_dir
    dst = tmp_path / "broken"
    shutil.copytree(path, dst)
    weights = dst / "model.safetensors"
    weights.write_bytes(cut(weights.read_bytes()))
    return dst


@pytest.mark.parametrize(
    ("cut", "message"),
    [
        (lambda b: b"", r"damaged weight files: model\.safetensors is empty"),
        (lambda b: b[:5], r"model\.safetensors is 5 bytes, shorter than a safetensors header"),
        (lambda b: b[:100], r"model\.safetensors is truncated: its header alone is \d+ bytes"),
        (lambda b: b[:-64], r"\(model\.safetensors\): SafetensorError: .*damaged or do not match"),
    ],
    ids=["empty", "short", "header cut", "data cut"],
)
@pytest.mark.parametrize("allow_pickle", [False, True])
def test_damaged_weights_raise_lm_load_error(tiny_dir, tmp_path, cut, message, allow_pickle):
    broken = _broken_copy(tiny_dir, tmp_path, cut)
    with pytest.raises(LMLoadError, match=message):
        load_lm(broken, device="cpu", allow_pickle=allow_pickle)


def test_weights_of_another_shape_raise_lm_load_error(tiny_dir, tmp_path):
    path, _ = tiny_dir
    dst = tmp_path / "mismatched"
    shutil.copytree(path, dst)
    config = json.loads((dst / "config.json").read_text())
    config["intermediate_size"] *= 2
    (dst / "config.json").write_text(json.dumps(config))
    with pytest.raises(LMLoadError, match=r"mismatched' \(model\.safetensors\): RuntimeError.*"):
        load_lm(dst, device="cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_cuda_without_cuda_is_refused_up_front(tiny_dir, monkeypatch, device):
    import transformers

    def never(*args, **kwargs):  # nothing is read before the device is checked
        raise AssertionError("from_pretrained was called")

    monkeypatch.setattr(transformers.AutoConfig, "from_pretrained", never)
    with pytest.raises(LMLoadError, match=rf"device='{device}', but no CUDA GPU is available"):
        load_lm(tiny_dir[0], device=device)


def test_cuda_index_past_the_visible_gpus(tiny_dir, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(LMLoadError, match=r"device='cuda:5', but only 2 CUDA GPU\(s\) are visible"):
        load_lm(tiny_dir[0], device="cuda:5")


def test_a_device_that_is_not_one(tiny_dir):
    with pytest.raises(LMLoadError, match=r"device='tpu9' is not a device"):
        load_lm(tiny_dir[0], device="tpu9")
