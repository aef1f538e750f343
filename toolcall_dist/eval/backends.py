"""Generation backends behind one call, ``run(spec, prompts, batches)``, so the driver and Ray tasks share it.

``spec`` is a plain dict (it crosses the Ray boundary): ``backend`` ("hf" or "vllm"), ``model_dir``, ``dtype``,
``max_new_tokens``, ``stop_ids``, for vLLM an optional ``lora`` (``{"base_dir", "adapter_dir", "rank"}``), and for
the transformers backend an optional ``sampling`` (``{"temperature", "top_p", "seed"}``; absent or null: greedy).
"""

from __future__ import annotations


def run(spec: dict, prompts: dict[int, str], batches: list[list[int]]) -> dict[int, str]:
    """Completions ``{index: text}`` for the prompts named in ``batches`` (greedy unless ``spec["sampling"]``)."""
    sampling = spec.get("sampling")
    if spec["backend"] == "vllm":
        if sampling is not None:
            raise ValueError("sampled generation runs on the hf backend only")
        from toolcall_dist.eval.vllm_backend import run_vllm

        return run_vllm(spec, prompts, [i for batch in batches for i in batch])
    if spec["backend"] != "hf":
        raise ValueError(f"eval.backend: unknown backend {spec['backend']!r}; known: hf, vllm")
    from toolcall_dist.eval.generate import load_model, load_tokenizer, run_batches

    trust = spec.get("trust_remote_code", False)
    tok = load_tokenizer(spec["model_dir"], trust)
    model = load_model(spec["model_dir"], spec["dtype"], trust)
    return run_batches(model, tok, prompts, batches, spec["max_new_tokens"], spec["stop_ids"], spec.get("label", ""),
                       sampling)


def session(spec: dict):
    """``(tokenizer, generate)`` with the model of ``spec`` loaded once: ``generate(prompts, batches)`` returns
    ``{index: text}`` as ``run`` does, as often as a caller needs (the multi-turn loop generates once per step)."""
    if spec["backend"] == "vllm":
        from toolcall_dist.eval.vllm_backend import Engine, generate

        engine = Engine(spec)
        return engine.tok, lambda prompts, batches: generate(engine, prompts, [i for b in batches for i in b])
    if spec["backend"] != "hf":
        raise ValueError(f"eval.backend: unknown backend {spec['backend']!r}; known: hf, vllm")
    from toolcall_dist.eval.generate import load_model, load_tokenizer, run_batches

    trust = spec.get("trust_remote_code", False)
    tok = load_tokenizer(spec["model_dir"], trust)
    model = load_model(spec["model_dir"], spec["dtype"], trust)
    return tok, lambda prompts, batches: run_batches(model, tok, prompts, batches, spec["max_new_tokens"],
                                                     spec["stop_ids"], spec.get("label", ""))
