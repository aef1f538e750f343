"""DPO pairs about how many calls to make: end the turn after this call, or call again.

After a call's closing delimiter a model decides between ending its turn and opening another call. A small SFT model
can learn that decision mostly as a prior: the quickstart's 1.25M-parameter SFT model gives another call a median
0.2 after a one-call request and 0.3 after a multi-call one, never past one half, so greedy decoding makes one call
where several are asked for (benchmarks/call_count_decision.py). A pair here differs from its chosen reply first at
exactly that decision:

- ``count:stopped_early``, from a multi-call record: chosen = every call, rejected = the first call alone;
- ``count:called_again``, from a single-call record: chosen = the call, rejected = the call made twice.

The two kinds come in equal numbers, so the pairs teach the request's part in the decision, not a new prior. They
are built from the data stage's good records (training prompts only) and are pure in ``seed``.
"""

from __future__ import annotations

import random

from .corrupt import extra_call
from .pairs import PAIR_KINDS
from .synthetic import _rid, call_index, call_message, calls_of

KINDS = ("count:stopped_early", "count:called_again")


def _pair(record: dict, kind: str, rejected: list[dict]) -> dict:
    i = call_index(record["messages"])
    rec = {"class": "bad", "kind": kind, "pair_kind": PAIR_KINDS["bad"], "source": record.get("source", "synthetic"),
           "tools": list(record["tools"]), "prompt": list(record["messages"][:i]),
           "chosen": [record["messages"][i]], "rejected": [call_message(rejected)]}
    return {"id": _rid("bad", rec), **rec}


def count_pairs(good: list[dict], seed: int) -> list[dict]:
    """As many ``stopped_early`` pairs as ``called_again`` ones, as many of each as the scarcer kind of record allows,
    interleaved in an order fixed by ``seed``."""
    rng = random.Random(f"{seed}:count_pairs")
    multi, single = [], []
    for rec in good:
        i = call_index(rec["messages"])
        if i is not None:
            (multi if len(calls_of(rec["messages"][i])) > 1 else single).append(rec)
    n = min(len(multi), len(single))
    early = [_pair(r, KINDS[0], calls_of(r["messages"][call_index(r["messages"])])[:1]) for r in rng.sample(multi, n)]
    again = []
    for r in rng.sample(single, n):
        calls = calls_of(r["messages"][call_index(r["messages"])])
        again.append(_pair(r, KINDS[1], extra_call(calls, r["tools"], "", rng)))
    out = early + again
    rng.shuffle(out)
    return out
