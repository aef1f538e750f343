"""The multi-turn loop: prompts as BFCL's Qwen handler writes them at every step, the ground truth replayed through
the loop scoring as BFCL scores it, the step limit, miss_func's revealed functions, and over-length prompts through
``runner.evaluate`` (a real model's full loop: tests/integration/test_eval_multi_turn.py)."""

from __future__ import annotations

import inspect
import json

import pytest
from test_formats_bfcl_vs_handlers import handlers  # noqa: F401 - BFCL's own handler objects (a fixture)

from toolcall_dist.eval.bfcl import MULTI_TURN_CATEGORIES, load_category
from toolcall_dist.eval.generate import load_tokenizer
from toolcall_dist.eval.mt_backends import ERROR_PREFIX, Backends, parse_call
from toolcall_dist.eval.multi_turn import ADDED_FUNCTIONS, Conversation, drive, judge, turn_messages
from toolcall_dist.eval.prompts import bfcl_tools
from toolcall_dist.formats import get_format
from toolcall_dist.formats.bfcl_prompt import bfcl_chat_prompt

pytestmark = pytest.mark.unit

FMT = get_format("qwen2_5")
OPTS = {"prompt": "bfcl", "decode": "bfcl", "batch_size": 4, "max_new_tokens": 64, "context": None,
        "step_limit": 20}


@pytest.fixture(scope="module")
def tok(shipped_tiny_model):
    return load_tokenizer(str(shipped_tiny_model))


def _decoded(entry: dict, call: str) -> dict:
    """A ground-truth call string as the model would write it: every argument by name."""
    name, args, kwargs = parse_call(call)
    method = Backends(entry["involved_classes"], entry["initial_config"]).methods[name]
    params = list(inspect.signature(method).parameters)
    return {"name": name, "arguments": {**dict(zip(params, args, strict=False)), **kwargs}}


def _reply(calls: list[dict]) -> str:
    return "".join(f"<tool_call>\n{json.dumps(c)}\n</tool_call>" for c in calls) + "<|im_end|>"


def oracle_script(entry: dict, mutate=None) -> list[str]:
    """Replies that make the ground truth's calls, one step per call, then close each turn with prose."""
    script = []
    for answer in entry["ground_truth"]:
        for call in answer:
            decoded = _decoded(entry, call)
            script.append(_reply([mutate(decoded) if mutate else decoded]))
        script.append("Done.<|im_end|>")
    return script


def scripted(script: list[str]):
    """A stand-in model for one conversation: its replies in order (one prompt per round)."""
    prompts_seen = []

    def generate(prompts, batches):
        assert list(prompts) == [0] and batches == [[0]]
        prompts_seen.append(prompts[0])
        return {0: script.pop(0) if script else "Done.<|im_end|>"}

    return generate, prompts_seen


@pytest.mark.parametrize("category", MULTI_TURN_CATEGORIES)
def test_ground_truth_replayed_through_the_loop_passes(tok, category):
    entries = load_category(category, limit=6)
    for entry in entries:
        generate, _ = scripted(oracle_script(entry))
        (row,) = drive([entry], FMT, tok, generate, OPTS)
        out = judge(row, entry, "base", "bfcl")
        assert out["correct"], (entry["id"], out["error"])
        assert len(out["turns"]) == len(entry["ground_truth"])
        results = [r for t in out["turns"] for s in t["steps"] for r in s["results"]]
        assert len(results) == sum(map(len, entry["ground_truth"]))
        assert not any(r.startswith(ERROR_PREFIX) for r in results) or category == "multi_turn_long_context"


def test_a_wrong_value_fails_and_the_record_shows_it(tok):
    entry = next(e for e in load_category("multi_turn_base") if e["id"] == "multi_turn_base_100")

    def wrong(call):
        return {**call, "arguments": {"amount": 1.0}} if call["name"] == "fund_account" else call

    generate, _ = scripted(oracle_script(entry, wrong))
    (row,) = drive([entry], FMT, tok, generate, OPTS)
    out = judge(row, entry, "base", "bfcl")
    assert not out["correct"] and out["error_type"] == "multi_turn:instance_state_mismatch"
    assert out["turns"][1]["steps"][0]["calls"] == [{"name": "fund_account", "arguments": {"amount": 1.0}}]


def test_step_limit_stops_the_entry(tok):
    entry = next(e for e in load_category("multi_turn_base") if e["id"] == "multi_turn_base_100")
    forever = [_reply([{"name": "get_stock_info", "arguments": {"symbol": "NVDA"}}])] * 50
    generate, seen = scripted(forever)
    (row,) = drive([entry], FMT, tok, generate, {**OPTS, "step_limit": 3})
    out = judge(row, entry, "base", "bfcl")
    assert row["stopped"] == "step_limit" and len(seen) == 4  # BFCL quits once the count passes the limit
    assert not out["correct"] and out["error_type"] == "multi_turn:force_terminated"


def test_undecodable_reply_ends_the_turn(tok):
    entry = next(e for e in load_category("multi_turn_base") if e["id"] == "multi_turn_base_100")
    bad = '<tool_call>{"name": "get_stock_info", "arguments": {"symbol": "NVDA"}}</tool_call><|im_end|>'  # no \n
    generate, seen = scripted([bad, bad])
    (row,) = drive([entry], FMT, tok, generate, OPTS)
    assert len(seen) == 2 and [len(t["steps"]) for t in row["turns"]] == [1, 1]
    assert row["turns"][0]["steps"][0]["calls"] == [] and row["decoded"] == [[], []]
    assert judge(row, entry, "base", "bfcl")["error_type"] == "multi_turn:empty_turn_model_response"


def test_miss_func_reveals_the_held_out_functions_in_its_turn():
    entry = next(e for e in load_category("multi_turn_miss_func") if e["id"] == "multi_turn_miss_func_100")
    (turn, docs), = entry["missed_function"].items()
    assert [d["name"] for d in docs] == ["get_stock_info"]
    assert all(f["name"] != "get_stock_info" for f in entry["function"])
    (message,) = turn_messages(entry, int(turn))
    assert message["content"] == f"{docs}\n{ADDED_FUNCTIONS}"
    conv = Conversation(entry)
    assert "get_stock_info" not in conv.prompt(FMT, None, "bfcl")
    conv.step(FMT, "No function can do that.<|im_end|>", "bfcl", 20)
    assert "get_stock_info" in conv.prompt(FMT, None, "bfcl") and ADDED_FUNCTIONS in conv.prompt(FMT, None, "bfcl")


def test_prompts_at_every_step_equal_bfcls_qwen_handler(handlers, tok):  # noqa: F811 - the fixture
    """At every step of the replayed ground truth, the prompt is the text BFCL's QwenFCHandler writes for the
    chat history it keeps (its assistant turns hold the extracted ``{"name", "arguments"}`` calls)."""
    qwen = handlers["qwen2_5"]
    checked = 0
    for category in MULTI_TURN_CATEGORIES:
        for entry in load_category(category, limit=3):
            generate, seen = scripted(oracle_script(entry))
            drive([entry], FMT, tok, generate, OPTS)
            # the history BFCL's handler keeps, rebuilt from the same replies
            history, k = [], 0
            for t, answer in enumerate(entry["ground_truth"]):
                history += turn_messages(entry, t)
                for _ in range(len(answer) + 1):
                    assert seen[k] == qwen._format_prompt(history, bfcl_tools(entry["function"], category))
                    data = qwen._parse_query_response_prompting(_response(seen_reply(entry, k)))
                    history.append(data["model_responses_message_for_chat_history"])
                    if data["model_responses_message_for_chat_history"].get("tool_calls"):
                        history.append({"role": "tool", "content": _result_of(entry, k)})
                    k += 1
                    checked += 1
            assert k == len(seen)
    assert checked > 40


_REPLAY: dict[str, tuple[list[str], list[str]]] = {}


def _replay(entry: dict) -> tuple[list[str], list[str]]:
    """The scripted replies of ``entry`` and the result each call step got (None-free: '' after prose)."""
    if entry["id"] not in _REPLAY:
        replies, results = oracle_script(entry), []
        b = Backends(entry["involved_classes"], entry["initial_config"], "long_context" in entry["category"])
        for answer in entry["ground_truth"]:
            results += [b.run_string(call) for call in answer] + [""]
        _REPLAY[entry["id"]] = (replies, results)
    return _REPLAY[entry["id"]]


def seen_reply(entry: dict, k: int) -> str:
    return _replay(entry)[0][k].removesuffix("<|im_end|>")


def _result_of(entry: dict, k: int) -> str:
    return _replay(entry)[1][k]


def _response(text: str):
    import types

    choice = types.SimpleNamespace(text=text)
    return types.SimpleNamespace(choices=[choice], usage=types.SimpleNamespace(prompt_tokens=0, completion_tokens=0))


def test_bfcl_chat_prompt_is_only_for_the_qwen_handler():
    for family in ("llama3", "mistral", "phi4"):
        with pytest.raises(ValueError, match="Qwen"):
            bfcl_chat_prompt(family, [{"role": "user", "content": "hi"}], [])


def test_over_length_prompts_stop_the_entry_as_an_inference_error(shipped_tiny_model, tmp_path):
    from toolcall_dist.eval.backends import run
    from toolcall_dist.eval.runner import evaluate

    e = {"limit": 2, "live_limit": None, "multi_turn_limit": None, "multi_turn_step_limit": 20,
         "max_new_tokens": 8, "batch_size": 4, "backend": "hf", "decode": "bfcl", "prompt": "bfcl"}
    scores, _ = evaluate(str(shipped_tiny_model), "qwen2_5", e, [("bfcl", None, ["multi_turn_base"])], tmp_path,
                         "base", run)
    rows = [json.loads(line) for line in (tmp_path / "generations.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(r["over_length"] and r["turns"][0]["steps"] == [] for r in rows)
    assert all(r["error_type"] == "multi_turn:inference_error" and "context 1024" in r["error"] for r in rows)
    assert scores["bfcl"]["multi_turn_errors"]["inference_error"] == 2
