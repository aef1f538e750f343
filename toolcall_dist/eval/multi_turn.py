"""BFCL's multi-turn categories in the loop: the model talks to BFCL's simulated APIs, turn by turn, step by step.

Per entry and user turn the model generates; its reply is decoded as BFCL's handler for the family decodes it
(``eval.decode=bfcl``; ``lenient``: the family parser), the calls run on the entry's backends
(``eval.mt_backends``: parsed, dispatched by name, never evaluated), and each result goes back as a tool message,
until a reply has no call (or does not decode), which ends the turn, as in BFCL's inference loop. A turn that
goes past ``eval.multi_turn_step_limit`` steps with calls (BFCL's ``MAXIMUM_STEP_LIMIT``, 20) stops the whole entry,
which then fails as BFCL's force-terminated entries fail. In ``multi_turn_miss_func`` the turn that reveals the
held-out functions is BFCL's user message listing them ("I have updated some more functions ..."); the function list
of the system prompt stays as it was, as in BFCL's prompting mode.

Prompts: for the Qwen/Hermes families with ``eval.prompt=bfcl``, the text BFCL's ``QwenFCHandler`` writes
(``formats.bfcl_prompt.bfcl_chat_prompt``); otherwise the family's chat template renders the conversation (calls and
tool results in the family's own format). Every live conversation's next step is generated together (one plan per
round, batches of similar length), so a round costs one batched generation. A prompt that no longer fits the context
stops its entry (BFCL's request would fail: an inference error).

The verdict is ``eval.mt_checker.check_entry`` on the decoded, non-empty steps. ``run`` is what one process (the
driver, or a Ray task of ``ray_eval``) does for a list of entries: load the model once, drive them all.
"""

from __future__ import annotations

import logging

from toolcall_dist.eval.mt_backends import Backends
from toolcall_dist.eval.mt_checker import check_entry, is_long_context
from toolcall_dist.eval.prompts import bfcl_tools
from toolcall_dist.eval.verdicts import jsonable
from toolcall_dist.formats import get_format
from toolcall_dist.formats.bfcl_decode import bfcl_decode, served_text
from toolcall_dist.formats.bfcl_prompt import bfcl_chat_prompt, has_chat_prompt

log = logging.getLogger(__name__)

STEP_LIMIT = 20  # BFCL's MAXIMUM_STEP_LIMIT: steps with calls per user turn
ADDED_FUNCTIONS = "I have updated some more functions you can choose from. What about now?"


def turn_messages(entry: dict, turn: int) -> list[dict]:
    """The user messages that open ``turn``: the entry's, or BFCL's message revealing held-out functions."""
    missed = (entry.get("missed_function") or {}).get(str(turn))
    if missed:  # the held-out docs as BFCL formats the list into its message
        return [{"role": "user", "content": f"{missed}\n{ADDED_FUNCTIONS}"}]
    return list(entry["question"][turn])


class Conversation:
    """One entry's state in the loop: its backends, the messages so far, and the record of every turn and step."""

    def __init__(self, entry: dict):
        self.entry = entry
        self.backends = Backends(entry["involved_classes"], entry["initial_config"],
                                 is_long_context(entry["category"]))
        self.tools = bfcl_tools(entry["function"], entry["category"])
        self.messages: list[dict] = []
        self.turns: list[dict] = []
        self.steps = 0
        self.done = False
        self.stopped = ""  # why the entry stopped before its last turn ended: "step_limit" or an over-length reason
        self.next_turn()

    def next_turn(self) -> None:
        t = len(self.turns)
        if t == len(self.entry["question"]):
            self.done = True
            return
        opening = turn_messages(self.entry, t)
        self.messages += opening
        self.turns.append({"user": opening, "steps": []})
        self.steps = 0

    def prompt(self, fmt, tokenizer, prompt: str) -> str:
        """The text the next step generates from."""
        if prompt == "bfcl" and has_chat_prompt(fmt.family):
            return bfcl_chat_prompt(fmt.family, self.messages, self.tools)
        return fmt.render_prompt(tokenizer, self.messages, self.tools)

    def step(self, fmt, text: str, decode: str, step_limit: int) -> None:
        """Take the model's reply ``text``: decode it, run its calls, feed the results back (or end the turn)."""
        if decode == "bfcl":
            decoded = bfcl_decode(fmt.family, text)
            calls, error = decoded.calls, decoded.error
        else:
            calls, error = fmt.parse(text), ""
        record = {"raw_output": text, "calls": jsonable(calls), "decode_error": error, "results": []}
        self.turns[-1]["steps"].append(record)
        content = served_text(fmt.family, text)
        if "</think>" in content:  # the history keeps the answer, not the reasoning, as BFCL's handler does
            content = content.split("</think>")[-1].lstrip("\n")
        if not calls:  # no call, or none that decodes: the turn is over
            self.messages.append({"role": "assistant", "content": content})
            self.next_turn()
            return
        record["results"] = [self.backends.run_decoded(c) for c in calls]
        self.messages.append({"role": "assistant", "content": "", "tool_calls": [
            {"type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}} for c in calls]})
        self.messages += [{"role": "tool", "name": str(c["name"]), "content": r}
                          for c, r in zip(calls, record["results"], strict=True)]
        self.steps += 1
        if self.steps > step_limit:  # BFCL counts the steps and quits once the count passes its limit
            self.stopped = "step_limit"
            self.done = True

    def stop(self, reason: str) -> None:
        self.stopped, self.done = reason, True

    def decoded_turns(self) -> list[list[list[dict]]]:
        """Per turn, the steps whose reply decoded to at least one call: what BFCL's checker executes."""
        return [[s["calls"] for s in turn["steps"] if s["calls"]] for turn in self.turns]


def drive(entries: list[dict], fmt, tokenizer, generate, opts: dict) -> list[dict]:
    """Talk every entry through to its end; one row per entry (unjudged: ``judge`` adds the verdict).

    ``generate(prompts: {i: text}, batches: [[i, ...]]) -> {i: text}`` produces the replies of one round;
    ``opts``: ``prompt``, ``decode``, ``batch_size``, ``max_new_tokens``, ``context`` (None: unknown), ``step_limit``.
    """
    from toolcall_dist.eval.generate import plan

    convs = [Conversation(e) for e in entries]
    rounds = 0
    while live := [c for c in convs if not c.done]:
        rounds += 1
        prompts = [c.prompt(fmt, tokenizer, opts["prompt"]) for c in live]
        work = plan(tokenizer, prompts, opts["batch_size"], opts["max_new_tokens"], opts["context"])
        for i, reason in work.over_length.items():
            live[i].stop(reason)
        texts = generate({i: prompts[i] for batch in work.batches for i in batch}, work.batches)
        for batch in work.batches:
            for i in batch:
                live[i].step(fmt, texts.get(i, ""), opts["decode"], opts["step_limit"])
        log.info("multi-turn round %d: %d conversation(s) went on", rounds, len(live))
    return [{"id": c.entry["id"], "category": c.entry["category"], "turns": c.turns, "stopped": c.stopped,
             "decoded": c.decoded_turns()} for c in convs]


def judge(row: dict, entry: dict, stage: str, decode: str) -> dict:
    """The scored row of a driven entry: BFCL's verdict, and what the per-entry JSONL keeps of every turn."""
    over = row["stopped"].startswith("over_length")
    if over:  # BFCL's request fails and the entry is an inference error
        verdict = {"valid": False, "error_type": "multi_turn:inference_error", "error": row["stopped"]}
    else:
        verdict = check_entry(row["decoded"], entry)
    if row["stopped"] == "step_limit" and not verdict["valid"]:
        verdict["error"] += " (stopped at the step limit)"
    raws = [s["raw_output"] for turn in row["turns"] for s in turn["steps"]]
    return {"id": row["id"], "set": "bfcl", "category": row["category"], "stage": stage, "multi_turn": True,
            "raw_output": "\n".join(raws), "decode": decode,
            "parsed_calls": [c for steps in row["decoded"] for step in steps for c in step],
            "correct": verdict["valid"], "error": "" if verdict["valid"] else f"{verdict['error_type']}: "
            f"{verdict['error']}", "error_type": verdict["error_type"], "over_length": over,
            "stopped": row["stopped"], "steps": len(raws), "turns": row["turns"]}


def run(spec: dict, entries: list[dict], opts: dict) -> list[dict]:
    """Load the generation backend of ``spec`` once and drive ``entries`` (one process: the driver or a Ray task)."""
    from toolcall_dist.eval.backends import session

    tokenizer, generate = session(spec)
    return drive(entries, get_format(opts["family"]), tokenizer, generate, opts)
