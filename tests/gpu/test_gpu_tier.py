"""The gpu tier: the recipe's CUDA paths on one GPU. ``make test-gpu`` runs it; where torch sees no GPU every test
here is reported as skipped (never as passed), and tests that need an optional package (flash-attn, liger-kernel,
vLLM) skip where it is missing.

- SFT then DPO as Ray Train jobs with NCCL and DeepSpeed's bf16 engine, ZeRO-2 and ZeRO-3, full and LoRA: the
  engine that ran (``run_info.json``'s ``engine``) is the configured one, and each output loads and generates on
  the GPU;
- packing with FlashAttention 2 (one flattened micro batch, attention within each conversation);
- the Liger kernels: the first step's loss is the one without them;
- the transformers eval backend on CUDA: batched texts equal one-at-a-time texts;
- the vLLM backend: the texts of the transformers backend;
- sharded eval tasks: Ray gives each task a GPU.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from reduced import DPO_BATCHES, NO_TRACKING, QUICKSTART, SFT_BATCHES, data, tiny_base

torch = pytest.importorskip("torch")

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU (torch.cuda.is_available())")]

ONE_GPU = ["cluster=local_gpu", "cluster.num_workers=1", "cluster.cpus_per_worker=2", "cluster.checkpoint_steps=0"]
SMALL = [*QUICKSTART, *NO_TRACKING, *ONE_GPU, *data(160, 4), *tiny_base(100), "sft.epochs=1", *SFT_BATCHES,
         "sft.logging_steps=1", "dpo.epochs=1", *DPO_BATCHES, "sft.bf16=true", "dpo.bf16=true"]
CELLS = {
    "zero2_full": ["deepspeed=zero2", "peft=none"],
    "zero2_lora": ["deepspeed=zero2", "peft=lora"],
    "zero3_full": ["deepspeed=zero3", "peft=none"],
    "zero3_lora": ["deepspeed=zero3", "peft=lora"],
}


def _installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


@pytest.fixture(scope="module")
def env(tmp_path_factory, compose):
    """Data and base built once; ``run(name, extra, stages)`` trains a cell on them (cached per arguments)."""
    import ray

    from toolcall_dist import pipeline

    root = tmp_path_factory.mktemp("gpu")
    pipeline.run(compose([*SMALL, f"output_dir={root}/prep", f"stages_dir={root}/stages", "stages=[data,base]"]))
    results: dict = {}

    def run(name: str, extra: tuple[str, ...] = (), stages: str = "[sft,dpo]"):
        key = (name, extra, stages)
        if key not in results:
            results[key] = pipeline.run(compose([*SMALL, *CELLS.get(name, []), *extra, f"output_dir={root}/{name}",
                                                 f"stages_dir={root}/stages", f"stages={stages}"]))
        return results[key]

    yield run
    ray.shutdown()


def _generates_on_cuda(model_dir: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).to("cuda")
    enc = tok.apply_chat_template([{"role": "user", "content": "weather in Tokyo?"}], add_generation_prompt=True,
                                  return_tensors="pt", return_dict=True).to("cuda")
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=4, do_sample=False)
    assert out.device.type == "cuda" and out.shape[1] > enc["input_ids"].shape[1]


@pytest.mark.parametrize("cell", list(CELLS))
def test_sft_and_dpo_on_one_gpu_with_nccl_and_bf16(env, cell):
    result = env(cell)
    zero = int(cell[len("zero")])
    for stage in ("sft", "dpo"):
        info = json.loads((result.stage_dirs[stage] / "done.json").read_text())
        engine = info["engine"]
        assert info["bf16"] is True and info["global_step"] > 0
        assert (engine["engine"], engine["zero_stage"], engine["world_size"], engine["backend"]) == (
            "DeepSpeedEngine", zero, 1, "nccl")
        assert engine["compute_dtype"] == "bfloat16" and engine["master_dtype"] == "float32"
        if stage == "dpo":
            assert engine["reference"] == ("adapter_disabled" if cell.endswith("lora") else "DeepSpeedEngine")
        _generates_on_cuda(result.stage_dirs[stage] / "model")


@pytest.mark.skipif(not _installed("flash_attn"), reason="flash-attn is not installed")
def test_packing_with_flash_attention_keeps_the_micro_batch_whole(env):
    result = env("zero2_full", ("sft.packing=true", "model.attn_implementation=flash_attention_2"), "[sft]")
    info = json.loads((result.stage_dirs["sft"] / "done.json").read_text())
    padded = json.loads((env("zero2_full", (), "[sft]").stage_dirs["sft"] / "done.json").read_text())
    assert info["dataset"] == padded["dataset"] and 0 < info["global_step"] < padded["global_step"]
    losses = [h["loss"] for h in json.loads((result.stage_dirs["sft"] / "model" / "log_history.json").read_text())
              if "loss" in h]
    assert losses and all(loss == loss and loss < 20 for loss in losses)  # finite, no NaN
    _generates_on_cuda(result.stage_dirs["sft"] / "model")


@pytest.mark.skipif(not _installed("liger_kernel"), reason="liger-kernel is not installed")
def test_liger_kernels_give_the_same_first_loss(env):
    def first_loss(result) -> float:
        history = json.loads((result.stage_dirs["sft"] / "model" / "log_history.json").read_text())
        return next(h["loss"] for h in history if "loss" in h)

    liger = env("zero2_full", ("sft.liger_kernel=true",), "[sft]")
    plain = env("zero2_full", (), "[sft]")
    assert first_loss(liger) == pytest.approx(first_loss(plain), rel=2e-2)  # bf16 kernels, same batch and weights


def _bfcl_prompts(tok, n: int = 6) -> list[str]:
    from toolcall_dist.eval.bfcl import load_category
    from toolcall_dist.eval.prompts import entry_prompt
    from toolcall_dist.formats import get_format

    fmt = get_format("qwen2_5")
    entries = load_category("simple_python", limit=n // 2) + load_category("irrelevance", limit=n - n // 2)
    return [entry_prompt(fmt, tok, e) for e in entries]


def test_hf_eval_on_cuda_writes_what_one_at_a_time_writes(shipped_tiny_model):
    from toolcall_dist.eval.generate import generate, load_model, load_tokenizer, stop_token_ids
    from toolcall_dist.formats import get_format

    model, tok = load_model(str(shipped_tiny_model)), load_tokenizer(str(shipped_tiny_model))
    assert model.device.type == "cuda"
    prompts, stop = _bfcl_prompts(tok), stop_token_ids(tok, get_format("qwen2_5"))
    batched = generate(model, tok, prompts, max_new_tokens=24, batch_size=3, stop_ids=stop)
    alone = [generate(model, tok, [p], max_new_tokens=24, batch_size=1, stop_ids=stop)[0] for p in prompts]
    assert all(batched) and batched == alone


@pytest.mark.skipif(not _installed("vllm"), reason="vLLM is not installed")
def test_vllm_backend_writes_the_hf_backends_texts(shipped_tiny_model):
    from toolcall_dist.eval.backends import run
    from toolcall_dist.eval.generate import load_tokenizer, stop_token_ids
    from toolcall_dist.formats import get_format

    tok = load_tokenizer(str(shipped_tiny_model))
    prompts = dict(enumerate(_bfcl_prompts(tok)))
    spec = {"model_dir": str(shipped_tiny_model), "dtype": "float32", "max_new_tokens": 24,
            "stop_ids": stop_token_ids(tok, get_format("qwen2_5"))}
    batches = [list(prompts)]
    assert run({**spec, "backend": "vllm"}, prompts, batches) == run({**spec, "backend": "hf"}, prompts, batches)


def test_sharded_eval_tasks_each_get_a_gpu(shipped_tiny_model, compose):
    import ray
    from omegaconf import OmegaConf

    from toolcall_dist.eval.generate import load_tokenizer, stop_token_ids
    from toolcall_dist.formats import get_format
    from toolcall_dist.ray_eval import generate_sharded

    cluster = OmegaConf.to_container(compose([*QUICKSTART, *ONE_GPU]), resolve=True)["cluster"]
    tok = load_tokenizer(str(shipped_tiny_model))
    prompts = dict(enumerate(_bfcl_prompts(tok, 4)))
    spec = {"backend": "hf", "model_dir": str(shipped_tiny_model), "dtype": "float32", "max_new_tokens": 8,
            "stop_ids": stop_token_ids(tok, get_format("qwen2_5"))}
    workers: list[dict] = []
    try:
        texts = generate_sharded(cluster, 2, spec, prompts, [[0, 1], [2, 3]], workers=workers)
    finally:
        ray.shutdown()
    assert sorted(texts) == [0, 1, 2, 3] and len(workers) == 2
    assert all(len(w["gpus"]) == 1 for w in workers)
