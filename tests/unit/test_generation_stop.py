"""A stop request (SIGTERM/SIGUSR1 to the driver) reaches generation: it stops between batches, and an evaluation
run again resumes from its journal with the replies an uninterrupted run gives."""

import logging

import pytest

from toolcall_dist import preempt
from toolcall_dist.eval import journal
from toolcall_dist.eval.generate import load_model, load_tokenizer, run_batches, stop_token_ids
from toolcall_dist.formats import get_format

pytestmark = pytest.mark.unit

PROMPTS = {i: f"<|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant\n" for i, q in enumerate(
    ("What is the weather in Paris?", "Convert 5 km to miles.", "Hello!", "Quote AAPL and MSFT.", "Hi there",
     "Weather in Oslo tomorrow?"))}
BATCHES = [[0, 1], [2, 3], [4, 5]]


@pytest.fixture
def tiny(shipped_tiny_model):
    model, tok = load_model(str(shipped_tiny_model)), load_tokenizer(str(shipped_tiny_model))
    yield model, tok, stop_token_ids(tok, get_format("qwen2_5"))
    preempt._state["requested"] = False  # the request is process state: leave none behind


def test_generation_stops_between_batches_and_the_journal_resumes(tiny, tmp_path):
    model, tok, stop = tiny
    whole = run_batches(model, tok, PROMPTS, BATCHES, 6, stop)
    calls = []

    def stopped_after_first(spec, prompts, batches):
        calls.append(batches)
        if len(calls) == 2:
            preempt.request()  # the signal arrives while the second chunk is being prepared
        return run_batches(model, tok, prompts, batches, 6, stop, label=spec["label"])

    path = tmp_path / "journal.jsonl"
    with pytest.raises(preempt.Preempted, match="stopped after 0/2 prompts"):
        journal.generate(stopped_after_first, {"label": "eval_sft"}, PROMPTS, BATCHES, path, chunk_batches=1)
    done, _ = journal.read(path, PROMPTS)
    assert sorted(done) == [0, 1]  # the first chunk was written before the stop

    preempt._state["requested"] = False  # the run again, as the same command after a requeue
    rest = []
    out = journal.generate(lambda spec, p, b: rest.append(b) or run_batches(model, tok, p, b, 6, stop),
                           {"label": "eval_sft"}, PROMPTS, BATCHES, path, chunk_batches=1)
    assert rest == [[[2, 3]], [[4, 5]]] and out == whole


def test_a_stop_inside_a_chunk_keeps_its_finished_batches(tiny, tmp_path, caplog):
    model, tok, stop = tiny
    whole = run_batches(model, tok, PROMPTS, BATCHES, 6, stop)

    class StopAtFirstProgress(logging.Handler):  # the signal arrives while the chunk's first batch is reported
        def emit(self, record):
            if hasattr(record, "progress"):
                preempt.request()

    path, handler = tmp_path / "journal.jsonl", StopAtFirstProgress()
    logger = logging.getLogger("toolcall_dist.eval.generate")
    logger.addHandler(handler)
    try:
        with caplog.at_level("INFO", logger=logger.name), pytest.raises(preempt.Preempted, match="after 2/6"):
            journal.generate(lambda spec, p, b: run_batches(model, tok, p, b, 6, stop, label=spec["label"]),
                             {"label": "eval_sft"}, PROMPTS, BATCHES, path, chunk_batches=3)
    finally:
        logger.removeHandler(handler)
    done, _ = journal.read(path, PROMPTS)
    assert done == {i: whole[i] for i in (0, 1)}  # one chunk of three batches: the first one is kept

    preempt._state["requested"] = False
    rest = []
    out = journal.generate(lambda spec, p, b: rest.append(b) or run_batches(model, tok, p, b, 6, stop),
                           {"label": "eval_sft"}, PROMPTS, BATCHES, path, chunk_batches=3)
    assert rest == [[[2, 3], [4, 5]]] and out == whole


def test_a_chunk_reports_its_place_in_the_whole_generation(tiny, caplog):
    model, tok, stop = tiny
    with caplog.at_level("INFO", logger="toolcall_dist.eval.generate"):
        run_batches(model, tok, PROMPTS, BATCHES[1:], 4, stop, label="eval_base", progress=(2, 6))
    progress = [r.progress for r in caplog.records if hasattr(r, "progress")]
    assert [(p["done"], p["total"]) for p in progress] == [(4, 6), (6, 6)]
    assert progress[-1]["eta_s"] == 0 and progress[0]["rate"] > 0
