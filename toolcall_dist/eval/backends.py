"""Generation backends behind one call, ``run(spec, prompts, batches)``, so the driver and Ray tasks share it.

``spec`` is a plain dict (it crosses the Ray boundary): ``backend`` ("hf" or "vllm"), ``model_dir``, ``dtype``,
``max_new_tokens``, ``stop_ids``, for vLLM an optional ``lora`` (``{"base_dir", "adapter_dir", "rank"}``), and for
the transformers backend an optional ``sampling`` (``{"temperature", "top_p", "seed"}``; absent or null: greedy) and
``progress`` (``[done before, total]``: these prompts reported as part of a larger generation).
"""

from __future__ import annotations


def run(spec: dict, prompts: dict[int, str], batches: list[list[int]]) -> dict[int, str]:
    """Completions ``{index: text}`` for the prompts named in ``batches`` (greedy unless ``spec["sampling"]``): a
    ``session`` used once. Nothing to generate loads no model."""
    _check(spec)
    if not any(batches):
        return {}
    return session(spec)[1](prompts, batches)


def _check(spec: dict) -> None:
    if spec["backend"] not in ("hf", "vllm"):
        raise ValueError(f"eval.backend: unknown backend {spec['backend']!r}; known: hf, vllm")
    if spec["backend"] == "vllm" and spec.get("sampling") is not None:
        raise ValueError("sampled generation runs on the hf backend only")


def session(spec: dict):
    """``(tokenizer, generate)`` with the model of ``spec`` loaded once: ``generate(prompts, batches)`` returns
    ``{index: text}`` as ``run`` does, as often as a caller needs (the multi-turn loop generates once per step)."""
    _check(spec)
    if spec["backend"] == "vllm":
        from toolcall_dist.eval.vllm_backend import Engine, generate

        engine = Engine(spec)
        return engine.tok, lambda prompts, batches: generate(engine, prompts, [i for b in batches for i in b])
    from toolcall_dist.eval.generate import load_model, load_tokenizer, run_batches

    trust = spec.get("trust_remote_code", False)
    tok = load_tokenizer(spec["model_dir"], trust)
    model = load_model(spec["model_dir"], spec["dtype"], trust)
    return tok, lambda prompts, batches: run_batches(model, tok, prompts, batches, spec["max_new_tokens"],
                                                     spec["stop_ids"], spec.get("label", ""), spec.get("sampling"),
                                                     spec.get("progress"))
