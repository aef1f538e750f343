"""The project's training stages against a plain PyTorch loop doing the same work, on the real SmolLM2-135M weights.

    PYTHONPATH=. .venv/bin/python benchmarks/cpu_speed.py [--examples 64] [--steps 6] [--parts all]

Each comparison runs in one invocation, every part in a fresh process, so machine noise is shared:

- ``matmul``: 2048 x 2048 products in fp32 and bf16 (GFLOP/s): the rate every figure below is a share of, and the
  reason ``bf16: auto`` picks what it picks on this CPU (toolcall_dist/hardware.py);
- ``sft-plain-lora`` / ``sft-project-lora``: SFT with LoRA r16 on every projection and the added tokens' embedding
  rows. Plain: the model, PEFT, AdamW and ``loss.backward()`` over micro batches of the stage's own tokenized
  dataset, nothing else. Project: the SFT
  stage's Ray Train job (1 worker x 2 threads, DeepSpeed ZeRO-2, as ``+exp=smollm2_dpo`` runs it) on the same data;
- ``sft-plain-full`` / ``sft-project-full``: the same with full fine-tuning;
- ``dpo-plain-lora`` / ``dpo-project-lora``: DPO with LoRA (reference = the policy with its adapter disabled);
- ``eval-generate``: greedy replies to BFCL prompts (simple_python, multiple, irrelevance) from the base model, in
  fp32 and in bf16 (what ``eval.dtype: auto`` picks here): transformers' own ``generate`` one prompt at a time
  (plain) and the project's batched generation (``eval.generate``), new tokens/s, and how many bf16 texts are the
  fp32 ones.

Both sides train in the precision ``bf16: auto`` resolves to on this machine, on the same micro batches: the
prepared datasets in their order (the stages run with ``sampling=sequential``), 2 rows (pairs for DPO) each, 4 of
them per optimizer step (2 for DPO). Tokens/s count non-pad tokens (TRL's ``num_tokens``); the first
``--warmup`` optimizer steps are left out of the steady state. Effective FLOP/s = 6 x parameters x tokens/s for
full fine-tuning, 4 x for LoRA (no weight gradients for the frozen base), stated as a share of the measured matmul
rate in the precision used. Rewrites the section in docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import answer_part, compose, run_part, table, update_performance_doc, worker_config  # noqa: E402

MICRO, ACCUM = 2, 4
DPO_ACCUM = 2  # a DPO micro batch is twice the sequences (chosen and rejected) and adds the reference's forward


def _overrides(args, peft: str) -> list[str]:
    # The data mix is pinned (the preset's may move), and DPO is the plain sigmoid loss the plain loop computes.
    return ["+exp=smollm2_dpo", "data.ratios={good: 0.6, bad: 0.25, no_tool: 0.15}", "dpo.sft_weight=0.0",
            "dpo.pairs={synthetic: 1.0, mined: 0.0}", *args.set, "tracking=none", f"data.n_examples={args.examples}",
            f"peft={peft}", "sft.sampling=sequential", "dpo.sampling=sequential",
            f"sft.micro_batch_size={MICRO}",
            f"sft.global_batch_size={MICRO * ACCUM}", "sft.logging_steps=1", f"dpo.micro_batch_size={MICRO}",
            f"dpo.global_batch_size={MICRO * DPO_ACCUM}", "dpo.logging_steps=1", "cluster.checkpoint_steps=0"]


def prepare(args, work: Path) -> None:
    """The data and base stages of ``+exp=smollm2_dpo`` (SmolLM2 converted from the packaged GGUF, tool tokens
    added), then the SFT and DPO datasets as the stages tokenize them, under ``work``."""
    from _common import compose_config

    from toolcall_dist import pipeline
    from toolcall_dist.stages import read_jsonl
    from toolcall_dist.train import dpo, sft

    over = [*_overrides(args, "lora"), f"output_dir={work}/run", f"stages_dir={work}/stages", "stages=[data,base]"]
    result = pipeline.run(compose_config(over))
    cfg = compose(over)
    train_dir = result.stage_dirs["data"] / "train"
    model_dir = result.stage_dirs["base"] / "model"
    records = read_jsonl(train_dir / "good.jsonl") + read_jsonl(train_dir / "no_tool.jsonl")
    s = sft.prepare_dataset(records, str(model_dir), "smollm2", cfg["sft"]["max_length"], True,
                            str(work / "sft_dataset"))
    pairs = read_jsonl(train_dir / "bad.jsonl") + read_jsonl(train_dir / "when.jsonl")
    d = dpo.prepare_dataset(pairs, str(model_dir), "smollm2", cfg["dpo"]["max_length"], str(work / "dpo_dataset"))
    added = sorted(json.loads((result.stage_dirs["base"] / "done.json").read_text())["added_tokens"])
    (work / "prepared.json").write_text(json.dumps({"model_dir": str(model_dir), "sft": s, "dpo": d,
                                                     "added_tokens": added}))


def _bf16() -> bool:
    """What ``bf16: auto`` resolves to on this machine."""
    from toolcall_dist.hardware import hardware_has_bf16, resolve_bf16

    return resolve_bf16("auto", False, hardware_has_bf16(False), "sft.bf16")


def _matmul() -> dict:
    import torch

    torch.set_num_threads(2)
    out = {}
    for name, dt in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        # 2048 x 2048, or 256 x 256 where a first small product shows bf16 emulated (~0.4 GFLOP/s without native
        # bf16: one 2048 product would take most of a minute). The first product sets oneDNN up and can take longer
        # than the threshold on its own, so it is left out of the timing.
        small = torch.randn(256, 256, dtype=dt)
        small @ small
        t0 = time.perf_counter()
        small @ small
        size = 2048 if time.perf_counter() - t0 < 0.01 else 256
        a, b = torch.randn(size, size, dtype=dt), torch.randn(size, size, dtype=dt)
        a @ b
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < 3.0:
            a @ b
            n += 1
        out[f"{name}_gflops"] = 2 * size ** 3 * n / (time.perf_counter() - t0) / 1e9
        out[f"{name}_size"] = size
    return out


def _micro_batches(size: int, n: int) -> list[list[int]]:
    """Row indices of the first ``n`` micro batches the stages' sequential sampler gives (``sampling=sequential``,
    one worker): each epoch the rows in order, ``MICRO`` at a time, its last batch short where ``MICRO`` does not
    divide ``size``. Both sides of every comparison train on exactly these batches."""
    epoch = [list(range(i, min(i + MICRO, size))) for i in range(0, size, MICRO)]
    return [epoch[i % len(epoch)] for i in range(n)]


def _batches(dataset_dir: Path, pad_id: int, n: int):
    """The first ``n`` micro batches of the SFT stage's sequential order, right-padded, labels only on the assistant
    tokens."""
    import torch
    from datasets import load_from_disk

    rows = list(load_from_disk(str(dataset_dir)))
    out = []
    for pick in _micro_batches(len(rows), n):
        width = max(len(rows[i]["input_ids"]) for i in pick)
        ids = torch.full((len(pick), width), pad_id)
        labels = torch.full((len(pick), width), -100)
        mask = torch.zeros((len(pick), width), dtype=torch.long)
        for j, i in enumerate(pick):
            x, m = torch.tensor(rows[i]["input_ids"]), torch.tensor(rows[i]["assistant_masks"])
            ids[j, :len(x)], mask[j, :len(x)] = x, 1
            labels[j, :len(x)] = torch.where(m.bool(), x, torch.tensor(-100))
        out.append((ids, mask, labels))
    return out


def _plain_model(model_dir: str, peft: dict | None):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from toolcall_dist.train.common import LORA_TARGETS

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model.config.use_cache = False
    if peft:  # the preset's LoRA (r, alpha, dropout) on the family's projections
        model = get_peft_model(model, LoraConfig(r=peft["r"], lora_alpha=peft["alpha"], lora_dropout=peft["dropout"],
                                                 task_type="CAUSAL_LM", target_modules=LORA_TARGETS["smollm2"]))
    model.train()
    return model


def _added_ids(prep: dict) -> list[int]:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(prep["model_dir"]).convert_tokens_to_ids(prep["added_tokens"])


def _head_loss(model, ids, mask, labels):
    """Next-token cross-entropy with the LM head applied only where a label is, its logits computed in fp32 from fp32
    copies of the hidden states and the head's weight, as TRL's fused head does (``trl/kernels/chunked_logprob.py``
    ``_addmm_fp32``: bf16 logits bias training). The full-vocabulary logits of every position would cost more than
    the rest of a LoRA step."""
    import torch
    import torch.nn.functional as F

    causal = model.get_base_model() if hasattr(model, "get_base_model") else model
    hidden = causal.model(input_ids=ids, attention_mask=mask).last_hidden_state[:, :-1]
    target = labels[:, 1:]
    keep = target != -100
    with torch.autocast("cpu", enabled=False):
        logits = F.linear(hidden[keep].float(), causal.lm_head.weight.float())
    return F.cross_entropy(logits, target[keep])


def _sft_plain(args, work: Path, lora: bool) -> dict:
    import torch

    torch.set_num_threads(2)
    prep = json.loads((work / "prepared.json").read_text())
    bf16 = _bf16()
    model = _plain_model(prep["model_dir"], compose(_overrides(args, "lora"))["peft"] if lora else None)
    if lora:  # as the SFT stage does: the embedding rows of the added tokens train beside the adapters
        weight = model.get_input_embeddings().weight
        keep = torch.zeros(weight.shape[0], 1)
        keep[_added_ids(prep)] = 1.0
        weight.requires_grad_(True)
        weight.register_hook(lambda grad: grad * keep.to(grad.dtype))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.0)
    batches = _batches(work / "sft_dataset", model.config.pad_token_id or 0, (args.steps + args.warmup) * ACCUM)
    ends, tokens = [], []
    for step in range(args.steps + args.warmup):
        n = 0
        for ids, mask, labels in batches[step * ACCUM:(step + 1) * ACCUM]:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = _head_loss(model, ids, mask, labels) / ACCUM
            loss.backward()
            n += int(mask.sum())
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        ends.append(time.time())
        tokens.append(n)
    w = args.warmup  # as the stage's StepTimes.summary: steady from the end of step w + 1
    secs = ends[-1] - ends[w]
    return {"tokens_per_s": sum(tokens[w + 1:]) / secs, "seconds_per_step": secs / (len(ends) - w - 1), "bf16": bf16,
            "params": sum(p.numel() for p in model.parameters())}


def _project(args, work: Path, stage: str, peft: str) -> dict:
    """One training stage's Ray Train job on the prepared dataset, timed from ``fit()``."""
    from toolcall_dist.ray_cluster import init_ray
    from toolcall_dist.train import ray_job

    prep = json.loads((work / "prepared.json").read_text())
    cfg = compose(_overrides(args, peft))
    steps = args.steps + args.warmup
    n_rows = steps * MICRO * (ACCUM if stage == "sft" else DPO_ACCUM)
    # exactly `steps` optimizer steps: the epoch fraction that covers them (DPO) or the dataset's size (SFT)
    size = prep[stage]["examples" if stage == "sft" else "pairs"]
    cfg[stage]["epochs"] = n_rows / size
    run = work / f"{stage}-project-{peft}"
    c = {**worker_config(cfg, stage, Path(prep["model_dir"]), work / f"{stage}_dataset", run),
         "added_tokens": prep["added_tokens"] if stage == "sft" else []}
    t0 = time.time()
    init_ray(c["cluster"])
    t_fit = time.time()
    info = ray_job.fit(stage, c)
    timing = info["timing"]
    history = json.loads((run / "model" / "log_history.json").read_text())
    ends = timing
    out = {"bf16": info["bf16"], "ray_init_s": t_fit - t0, "fit_to_first_step_s": timing["first_step_at"] - t_fit,
           "steps": timing["steps_timed"], "fit_to_train_begin_s": timing["train_begin_at"] - t_fit,
           "first_step_s": timing["first_step_at"] - timing["train_begin_at"]}
    if "steady_seconds" in ends:
        secs = ends["steady_seconds"]
        out["seconds_per_step"] = secs / (ends["steady_to_step"] - ends["steady_from_step"])
        if stage == "sft":
            at = {h["step"]: h["num_tokens"] for h in history if "num_tokens" in h}
            out["tokens_per_s"] = (at[ends["steady_to_step"]] - at[ends["steady_from_step"]]) / secs
    return out


def _dpo_plain(args, work: Path) -> dict:
    """DPO's sigmoid loss with LoRA: per micro batch the chosen and rejected replies in one padded forward of the
    policy, the same forward with the adapter disabled and no grad for the reference, the LM head applied to the
    completion tokens only (as TRL's fused head does), pairs in the stage's sequential order."""
    import torch
    import torch.nn.functional as F
    from datasets import load_from_disk
    from transformers import AutoTokenizer

    torch.set_num_threads(2)
    prep = json.loads((work / "prepared.json").read_text())
    bf16 = _bf16()
    tok = AutoTokenizer.from_pretrained(prep["model_dir"])
    model = _plain_model(prep["model_dir"], compose(_overrides(args, "lora"))["peft"])
    causal = model.get_base_model()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-5, weight_decay=0.0)
    rows = list(load_from_disk(str(work / "dpo_dataset")))

    def encode(pick):
        seqs, starts = [], []
        for side in ("chosen", "rejected"):
            for i in pick:
                p = tok(rows[i]["prompt"], add_special_tokens=False)["input_ids"]
                c = tok(rows[i][side], add_special_tokens=False)["input_ids"]
                seqs.append(p + c)
                starts.append(len(p))
        width = max(map(len, seqs))
        ids = torch.full((len(seqs), width), tok.pad_token_id)
        keep = torch.zeros((len(seqs), width), dtype=torch.bool)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for i, (s, st) in enumerate(zip(seqs, starts, strict=True)):
            ids[i, :len(s)], mask[i, :len(s)], keep[i, st:len(s)] = torch.tensor(s), 1, True
        return ids, mask, keep

    def logps(ids, mask, keep):
        scored = keep[:, 1:]  # position t predicts token t + 1
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            hidden = causal.model(input_ids=ids, attention_mask=mask).last_hidden_state[:, :-1][scored]
            logits = causal.lm_head(hidden).float()
        lp = torch.gather(logits.log_softmax(-1), 1, ids[:, 1:][scored][:, None]).squeeze(1)
        row = torch.arange(len(ids))[:, None].expand_as(scored)[scored]
        return torch.zeros(len(ids), dtype=lp.dtype).index_add(0, row, lp)

    batches = _micro_batches(len(rows), (args.steps + args.warmup) * DPO_ACCUM)
    ends = []
    for step in range(args.steps + args.warmup):
        for pick in batches[step * DPO_ACCUM:(step + 1) * DPO_ACCUM]:
            ids, mask, keep = encode(pick)
            with torch.no_grad(), model.disable_adapter():
                ref = logps(ids, mask, keep)
            pol = logps(ids, mask, keep)
            n = len(pick)
            margin = (pol[:n] - ref[:n]) - (pol[n:] - ref[n:])
            (-F.logsigmoid(0.1 * margin).mean() / DPO_ACCUM).backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        ends.append(time.time())
    secs = ends[-1] - ends[args.warmup]
    return {"seconds_per_step": secs / (len(ends) - args.warmup - 1), "bf16": bf16}


def _step_ablation(args, work: Path) -> dict:
    """One micro batch's forward + backward (no optimizer) under five variants of the LoRA step, taking turns in one
    process so that machine noise hits all alike; the median of ``--steps`` rounds each. What each project choice
    costs: TRL's fused LM head scoring every position (its CPU default) or only the labelled ones
    (``train/common.score_labelled_positions_only``), LoRA dropout, the trainable rows of the added tokens."""
    import statistics

    import torch
    import trl.trainer.utils as trl_utils
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl.trainer.utils import add_fused_lm_head

    from toolcall_dist.train.common import score_labelled_positions_only, with_lora_and_new_rows

    torch.set_num_threads(2)
    prep = json.loads((work / "prepared.json").read_text())
    peft = compose(_overrides(args, "lora"))["peft"]
    dropped = {**peft, "dropout": 0.05}
    uses_triton = trl_utils._use_triton
    score_labelled_positions_only()
    compact, trl_utils._use_triton = trl_utils._use_triton, uses_triton
    tok = AutoTokenizer.from_pretrained(prep["model_dir"])

    def fused(p: dict):
        model = _plain_model(prep["model_dir"], p)
        add_fused_lm_head(model.get_base_model(), outputs=("log_probs", "entropy", "is_top1"))  # as SFTTrainer
        return model

    def with_rows():
        base = AutoModelForCausalLM.from_pretrained(prep["model_dir"], dtype=torch.float32)
        base.config.use_cache = False
        model = with_lora_and_new_rows(base, dropped, "smollm2", tok.convert_tokens_to_ids(prep["added_tokens"]))
        add_fused_lm_head(model.get_base_model(), outputs=("log_probs", "entropy", "is_top1"))
        return model.train()

    variants = {  # name: (model, fused head's compact switch or None for the plain loss)
        "plain head, dropout 0.05": (_plain_model(prep["model_dir"], dropped), None),
        "TRL head, every position, dropout 0.05": (fused(dropped), uses_triton),
        "TRL head, labelled positions, dropout 0.05": (fused(dropped), compact),
        "TRL head, labelled positions, dropout 0.05, added-token rows trained": (with_rows(), compact),
        "TRL head, labelled positions, dropout 0": (fused({**peft, "dropout": 0.0}), compact),
    }
    ids, mask, labels = _batches(work / "sft_dataset", tok.pad_token_id or 0, 1)[0]
    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(args.steps):
        for name, (model, switch) in variants.items():
            t0 = time.perf_counter()
            if switch is None:
                _head_loss(model, ids, mask, labels).backward()
            else:
                trl_utils._use_triton = switch
                model(input_ids=ids, attention_mask=mask, labels=labels, fused_lm_head=True).loss.backward()
            times[name].append(time.perf_counter() - t0)
            model.zero_grad(set_to_none=True)
    trl_utils._use_triton = uses_triton
    return {"tokens": int(mask.sum()), "labelled": int((labels[:, 1:] != -100).sum()),
            "seconds": {k: statistics.median(v) for k, v in times.items()}}


EVAL_PROMPTS, EVAL_TOKENS = 8, 96  # per category; at most, per reply


def _eval_generate(args, work: Path) -> dict:
    import torch

    from toolcall_dist.eval.bfcl import load_category
    from toolcall_dist.eval.generate import (
        context_length,
        generate,
        load_model,
        load_tokenizer,
        reply_text,
        stop_token_ids,
    )
    from toolcall_dist.eval.prompts import entry_prompt
    from toolcall_dist.formats import get_format

    torch.set_num_threads(2)
    model_dir = json.loads((work / "prepared.json").read_text())["model_dir"]
    fmt, tok = get_format("smollm2"), load_tokenizer(model_dir)
    entries = [e for c in ("simple_python", "multiple", "irrelevance") for e in load_category(c, limit=EVAL_PROMPTS)]
    prompts = [entry_prompt(fmt, tok, e, bfcl=True, prompt="bfcl") for e in entries]  # as eval.prompt=bfcl
    stop, ctx = stop_token_ids(tok, fmt), context_length(model_dir)

    def plain(model):  # transformers' own generate, its own cache, one prompt at a time
        out = []
        for prompt in prompts:
            enc = tok([prompt], return_tensors="pt", add_special_tokens=False)
            with torch.inference_mode():
                gen = model.generate(**enc, max_new_tokens=EVAL_TOKENS, do_sample=False, eos_token_id=stop,
                                     pad_token_id=tok.pad_token_id)
            out.append(reply_text(tok, gen[0, enc["input_ids"].shape[1]:].tolist(), stop))
        return out

    def project(model):  # eval.generate: batches of 16, the project's prefill and cache
        return generate(model, tok, prompts, EVAL_TOKENS, 16, stop, ctx)

    res = {"prompts": len(prompts)}
    texts = {}
    for dtype in ("float32", "bfloat16"):
        model = load_model(model_dir, dtype)
        generate(model, tok, prompts[:2], 8, 2, stop, ctx)  # warm-up: first-call allocations, kernel choice
        for way, fn in (("plain", plain), ("project", project)):
            t0 = time.perf_counter()
            texts[dtype, way] = fn(model)
            seconds = time.perf_counter() - t0
            new = sum(len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts[dtype, way] if t)
            res[f"{way}_{dtype}"] = {"seconds": seconds, "new_tokens": new, "tokens_per_s": new / seconds}
    res["same_bf16_as_fp32"] = sum(a == b for a, b in zip(texts["float32", "project"], texts["bfloat16", "project"],
                                                          strict=True))
    return res


def part(name: str, args, work: Path) -> dict:
    if name == "matmul":
        return _matmul()
    if name == "eval-generate":
        return _eval_generate(args, work)
    if name == "step-ablation":
        return _step_ablation(args, work)
    if name.startswith("sft-plain"):
        return _sft_plain(args, work, lora=name.endswith("lora"))
    if name == "dpo-plain-lora":
        return _dpo_plain(args, work)
    stage, _, peft = name.split("-")
    return _project(args, work, stage, "lora" if peft == "lora" else "none")


PARTS = ["matmul", "sft-plain-lora", "sft-project-lora", "sft-plain-full", "sft-project-full", "dpo-plain-lora",
         "dpo-project-lora", "step-ablation", "eval-generate"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=64, help="data.n_examples of the prepared data stage")
    parser.add_argument("--steps", type=int, default=6, help="steady optimizer steps measured per part")
    parser.add_argument("--warmup", type=int, default=2, help="optimizer steps left out of the steady state")
    parser.add_argument("--parts", default="all", help=f"comma-separated subset of {','.join(PARTS)}")
    parser.add_argument("--work", default=None, help="work directory (kept; default: a new one under /tmp)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a config override for both sides, e.g. --set peft.dropout=0.0")
    parser.add_argument("--part", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--no-doc", action="store_true", help="print only, leave docs/performance.md alone")
    args = parser.parse_args()
    import tempfile

    work = Path(args.work or tempfile.mkdtemp(prefix="cpu-speed-"))
    if answer_part(args, work, part):
        return
    if not (work / "prepared.json").exists():
        prepare(args, work)
    argv = ["--examples", str(args.examples), "--steps", str(args.steps), "--warmup", str(args.warmup),
            *[x for kv in args.set for x in ("--set", kv)]]
    names = PARTS if args.parts == "all" else args.parts.split(",")
    saved = work / "results.json"  # parts run earlier on the same --work are kept: a subset can be rerun alone
    res = json.loads(saved.read_text()) if saved.exists() else {}
    for name in names:
        res[name] = run_part(__file__, name, work, argv)
        print(name, json.dumps(res[name]), flush=True)
        saved.write_text(json.dumps(res, indent=1))
    if any(p not in res for p in PARTS):
        return
    body = render(res, json.loads((work / "prepared.json").read_text()))
    print(body)
    if not args.no_doc:
        cmd = "PYTHONPATH=. .venv/bin/python benchmarks/cpu_speed.py " + shlex.join(argv)
        update_performance_doc("cpu-speed", "SmolLM2-135M: the training stages against a plain PyTorch loop", cmd,
                               body)


def render(res: dict, prep: dict) -> str:
    mm = res["matmul"]
    bf16 = res["sft-plain-lora"]["bf16"]
    rate = mm["bf16_gflops" if bf16 else "fp32_gflops"]
    params = res["sft-plain-lora"]["params"]
    rows = []
    for what, key, factor in (("SFT, LoRA r16", "lora", 4), ("SFT, full", "full", 6)):
        p, q = res[f"sft-plain-{key}"], res[f"sft-project-{key}"]
        rows.append([f"{what}: tokens/s", f"{p['tokens_per_s']:.0f}", f"{q['tokens_per_s']:.0f}",
                     f"{q['tokens_per_s'] / p['tokens_per_s']:.2f}x",
                     f"{factor * params * q['tokens_per_s'] / 1e9 / rate:.0%} ({factor}x)"])
    p, q = res["dpo-plain-lora"], res["dpo-project-lora"]
    ratio = q["seconds_per_step"] / p["seconds_per_step"]
    rows.append(["DPO, LoRA r16: pairs/s", f"{MICRO * DPO_ACCUM / p['seconds_per_step']:.2f}",
                 f"{MICRO * DPO_ACCUM / q['seconds_per_step']:.2f}", f"step {ratio:.2f}x the plain one", ""])
    first = [f"{k}: {res[f'{k}']['fit_to_first_step_s']:.0f} s from fit() to the end of the first step "
             f"({res[f'{k}']['first_step_s']:.0f} s of it the step)" for k in ("sft-project-lora",
                                                                                 "sft-project-full",
                                                                                 "dpo-project-lora")]
    ab = res["step-ablation"]
    base = ab["seconds"]["TRL head, every position, dropout 0.05"]
    ablation = table(["one micro batch, forward + backward (LoRA)", "seconds", "tokens/s", "vs TRL's CPU default"],
                     [[k, f"{v:.2f}", f"{ab['tokens'] / v:.0f}", f"{base / v:.2f}x"]
                      for k, v in ab["seconds"].items()])
    ev = res["eval-generate"]
    gen_rows = [[f"{way}, {dt}", f"{ev[f'{way}_{dt}']['seconds']:.1f}", f"{ev[f'{way}_{dt}']['tokens_per_s']:.0f}",
                 f"{ev[f'plain_{dt}']['seconds'] / ev[f'{way}_{dt}']['seconds']:.2f}x",
                 f"{ev[f'{way}_float32']['seconds'] / ev[f'{way}_{dt}']['seconds']:.2f}x"]
                for dt in ("float32", "bfloat16") for way in ("plain", "project")]
    return "\n".join([
        f"Matmul 2048 x 2048: fp32 {mm['fp32_gflops']:.0f} GFLOP/s, bf16 {mm['bf16_gflops']:.1f} GFLOP/s; "
        f"`bf16: auto` resolved to {'bf16' if bf16 else 'fp32'} here, and both sides trained in it. SmolLM2-135M "
        f"({params / 1e6:.0f}M parameters), {prep['sft']['examples']} SFT conversations of "
        f"{prep['sft']['tokens'] / prep['sft']['examples']:.0f} tokens on average, micro batch {MICRO} x {ACCUM} "
        f"accumulated per optimizer step ({DPO_ACCUM} for DPO); both sides train on the same micro batches, the "
        "prepared datasets in order (the stages with `sampling=sequential`). LoRA SFT on both sides also trains "
        "the embedding rows of the tokens the base stage added (the whole matrix behind a row mask).", "",
        table(["what", "plain loop", "project stage", "project / plain", "effective FLOP/s, share of matmul"], rows),
        "", *[f"- {x}" for x in first], "",
        f"Where a step's time goes: one micro batch of {MICRO} conversations ({ab['tokens']} tokens, "
        f"{ab['labelled']} of them labelled), the variants taking turns in one process, in fp32 (no autocast), "
        "median of the rounds:", "",
        ablation, "",
        f"Eval generation: greedy replies of the base model to {ev['prompts']} BFCL prompts (simple_python, multiple, "
        f"irrelevance), at most {EVAL_TOKENS} new tokens; plain = transformers' `generate` one prompt at a time, "
        "project = `eval.generate` (batches of 16). "
        f"{ev['same_bf16_as_fp32']}/{ev['prompts']} of the project's bf16 texts are its fp32 ones.", "",
        table(["generation", "seconds", "new tokens/s", "vs plain, same dtype", "vs fp32, same way"], gen_rows)])


if __name__ == "__main__":
    main()
