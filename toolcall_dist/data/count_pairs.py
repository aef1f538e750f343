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
from .synthetic import bad_pair, call_index, calls_of

KINDS = ("count:stopped_early", "count:called_again")


def count_pairs(good: list[dict], seed: int) -> list[dict]:
    """As many ``stopped_early`` pairs as ``called_again`` ones, as many of each as the scarcer kind of record allows,
    interleaved in an order fixed by ``seed``."""
    rng = random.Random(f"{seed}:count_pairs")
    multi, single = [], []
    for rec in good:
        i = call_index(rec["messages"])
        if i is not None:
            calls = calls_of(rec["messages"][i])
            (multi if len(calls) > 1 else single).append((rec, calls))
    n = min(len(multi), len(single))
    out = [bad_pair(rec, KINDS[0], calls[:1]) for rec, calls in rng.sample(multi, n)]
    out += [bad_pair(rec, KINDS[1], extra_call(calls, rec["tools"], "", rng)) for rec, calls in rng.sample(single, n)]
    rng.shuffle(out)
    return out
