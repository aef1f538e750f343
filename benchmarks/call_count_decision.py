"""How a model decides the number of calls: the probability it opens another call right after its first one.

    PYTHONPATH=. .venv/bin/python benchmarks/call_count_decision.py MODEL_DIR DATA_STAGE_DIR [--per-shape 40]

For up to ``--per-shape`` good records of each shape of the data stage's training split, the conversation is rendered
through the family's chat template and cut just after the first call's closing delimiter, and the model's
next-token distribution there is read: ``1 - P(end of turn)`` is the probability that the reply goes on (another
call). A model that has learned the decision gives single-call shapes a low value and parallel shapes a high one; one
that has learned only the prior gives every shape the same. One forward pass per record, on the CPU.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model_dir")
    ap.add_argument("data_stage_dir", help="a data stage directory (outputs/stages/data-*)")
    ap.add_argument("--family", default="qwen2_5", choices=["qwen2_5", "qwen3", "smollm2"],
                    help="a family whose calls close with </tool_call>")
    ap.add_argument("--per-shape", type=int, default=40)
    args = ap.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from toolcall_dist.formats import get_format

    torch.set_num_threads(1)
    fmt = get_format(args.family)
    tok = AutoTokenizer.from_pretrained(args.model_dir)
    model = AutoModelForCausalLM.from_pretrained(args.model_dir).eval()
    close, end = tok.convert_tokens_to_ids("</tool_call>"), tok.convert_tokens_to_ids(fmt.eos)
    by_shape: dict[str, list[float]] = {}
    for line in (Path(args.data_stage_dir) / "train" / "good.jsonl").open():
        rec = json.loads(line)
        shape = rec.get("shape")
        if len(by_shape.setdefault(shape, [])) >= args.per_shape:
            continue
        ex = fmt.tokenize_conversation(tok, rec["messages"], rec["tools"])
        ids, trained = ex["input_ids"], ex["assistant_masks"]
        # the reply's first closing delimiter (the system turn's instructions may quote one too)
        cut = next(k for k, t in enumerate(ids) if t == close and trained[k]) + 1
        with torch.no_grad():
            probs = model(torch.tensor([ids[:cut]])).logits[0, -1].float().softmax(-1)
        by_shape[shape].append(1.0 - probs[end].item())
    for shape, values in by_shape.items():
        print(json.dumps({"shape": shape, "records": len(values), "median": round(statistics.median(values), 3),
                          "max": round(max(values), 3), "above_half": sum(v > 0.5 for v in values)}))


if __name__ == "__main__":
    main()
