"""DPO pairs against a value borrowed from another call of the same answer.

A small model that has learned to make two or three calls for a request of two or three clauses often fills one
call with a value of another clause: asked for a 3-year loan at 5% and a 15-year loan at 4.25%, it writes 15 years
into both calls. The data stage's corruptions change a value to something the request never says (a typo, a raw
date, another city); none of them takes the value of a sibling call. A pair here does, from a multi-call record:

- ``sibling:borrowed_value``: chosen = every call as the record has it, rejected = the same calls with one argument
  of one call set to the value that argument has in another call of the answer.

They are built from the data stage's good records (training prompts only) and are pure in ``seed``.
"""

from __future__ import annotations

import random

from .synthetic import bad_pair, call_index, calls_of
from .tools import copy_json

KIND = "sibling:borrowed_value"


def borrowed_value(calls: list[dict], rng: random.Random) -> list[dict] | None:
    """``calls`` with one argument of one call replaced by the value the same argument has in another call, where the
    two differ; None when no two calls share an argument with different values."""
    options = [(i, j, k) for i, c in enumerate(calls) for j, d in enumerate(calls) if i != j
               for k, v in c["arguments"].items() if k in d["arguments"] and d["arguments"][k] != v]
    if not options:
        return None
    i, j, k = rng.choice(options)
    out = copy_json(calls)
    out[i]["arguments"][k] = copy_json(calls[j]["arguments"][k])
    return out


def sibling_pairs(good: list[dict], seed: int) -> list[dict]:
    """One ``sibling:borrowed_value`` pair per multi-call record that allows one, in an order fixed by ``seed``."""
    rng = random.Random(f"{seed}:sibling_pairs")
    out = []
    for rec in good:
        i = call_index(rec["messages"])
        if i is None or len(calls := calls_of(rec["messages"][i])) < 2:
            continue
        if (bad := borrowed_value(calls, rng)) is not None:
            out.append(bad_pair(rec, KIND, bad))
    rng.shuffle(out)
    return out
