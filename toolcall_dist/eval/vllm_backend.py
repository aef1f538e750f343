"""vLLM generation (GPU machines where vLLM is installed): greedy, stopping at the family's turn-end tokens.

vLLM batches continuously by itself, so the plan's batches only say which prompts to run. A stage trained with a
LoRA adapter can be served as its base model plus the adapter (``spec["lora"]``), as a LoRA deployment would be.
vLLM is imported lazily: it is not a dependency of this package and is not installed on CPU machines.
"""

from __future__ import annotations

INSTALL_HINT = ("eval.backend=vllm needs vLLM, which is not installed here; install it on a GPU machine "
                "(`pip install vllm` matching the installed torch) or use eval.backend=hf")


def run_vllm(spec: dict, prompts: dict[int, str], indices: list[int]) -> dict[int, str]:
    """Greedy completions ``{index: text}`` of ``prompts[i]`` for each ``i`` in ``indices``."""
    if not indices:
        return {}
    return generate(Engine(spec), prompts, indices)


class Engine:
    """A vLLM engine for ``spec``, started once (benchmarks/eval_generate.py times its start apart from generation)."""

    def __init__(self, spec: dict):
        try:
            from vllm import LLM, SamplingParams
            from vllm.lora.request import LoRARequest
        except ImportError as exc:
            raise RuntimeError(INSTALL_HINT) from exc
        from toolcall_dist.eval.generate import load_tokenizer

        lora = spec.get("lora")
        self.tok = load_tokenizer(spec["model_dir"])
        self.llm = LLM(model=lora["base_dir"] if lora else spec["model_dir"], tokenizer=spec["model_dir"],
                       dtype=spec["dtype"], enable_lora=bool(lora), max_lora_rank=lora["rank"] if lora else 16)
        self.params = SamplingParams(temperature=0.0, max_tokens=spec["max_new_tokens"],
                                     stop_token_ids=spec["stop_ids"], skip_special_tokens=False)
        self.request = LoRARequest("adapter", 1, lora["adapter_dir"]) if lora else None


def generate(engine: Engine, prompts: dict[int, str], indices: list[int]) -> dict[int, str]:
    """``engine``'s greedy completions of ``prompts[i]`` for each ``i`` in ``indices``."""
    # Token ids, not text: the chat template already wrote any BOS, and vLLM would add another to a text prompt.
    inputs = [{"prompt_token_ids": engine.tok(prompts[i], add_special_tokens=False)["input_ids"]} for i in indices]
    outputs = engine.llm.generate(inputs, engine.params, lora_request=engine.request)
    return {i: out.outputs[0].text for i, out in zip(indices, outputs, strict=True)}
