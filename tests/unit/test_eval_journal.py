"""A stopped evaluation resumes from its journal: only what was not written is generated again, and the result is
the one an uninterrupted run gives."""

import json

import pytest

from toolcall_dist import preempt
from toolcall_dist.eval import journal

pytestmark = pytest.mark.unit

PROMPTS = {i: f"prompt {i}" for i in range(10)}
BATCHES = [[0, 1, 2], [3, 4], [5, 6, 7], [8], [9]]


class Generator:
    """Completions that depend on the prompt alone; remembers which prompts it was asked for, and stops (as a
    killed run would) once it has generated ``stop_after`` chunks."""

    def __init__(self, stop_after: int | None = None):
        self.asked: list[int] = []
        self.labels: list[str] = []
        self.stop_after = stop_after

    def __call__(self, spec, prompts, batches):
        if self.stop_after is not None and len(self.labels) == self.stop_after:
            raise KeyboardInterrupt
        self.labels.append((spec["label"], spec.get("progress")))
        ids = [i for b in batches for i in b]
        assert set(ids) == set(prompts)
        self.asked += ids
        return {i: prompts[i].upper() for i in ids}


def test_a_stopped_generation_resumes_with_only_what_the_journal_lacks(tmp_path):
    path = tmp_path / "journal.jsonl"
    whole = journal.generate(Generator(), {"label": "eval_sft"}, PROMPTS, BATCHES, tmp_path / "other.jsonl",
                             chunk_batches=2)
    assert whole == {i: p.upper() for i, p in PROMPTS.items()}

    first = Generator(stop_after=2)
    with pytest.raises(KeyboardInterrupt):
        journal.generate(first, {"label": "eval_sft"}, PROMPTS, BATCHES, path, chunk_batches=2,
                         overall_progress=True)
    assert first.asked == [0, 1, 2, 3, 4, 5, 6, 7, 8]  # two chunks of two batches written before the stop
    assert first.labels == [("eval_sft", [0, 10]), ("eval_sft", [5, 10])]  # one progress line over the chunks

    again = Generator()
    assert journal.generate(again, {"label": "eval_sft"}, PROMPTS, BATCHES, path, chunk_batches=2,
                            overall_progress=True) == whole
    assert again.asked == [9]
    assert again.labels == [("eval_sft", [9, 10])]


def test_a_stop_inside_a_chunk_keeps_the_batches_that_finished(tmp_path):
    """A stop request ends generation after its current batch (``eval.generate.run_batches``): the batches of the
    chunk that finished before it reach the journal, and the rerun generates only the rest."""
    path = tmp_path / "journal.jsonl"
    finished: list[int] = []

    def stopped_after_two_batches(spec, prompts, batches):
        out = {}
        for n, batch in enumerate(batches):
            if len(finished) == 2:
                raise preempt.Preempted("eval_sft stopped", partial=out)
            out.update({i: prompts[i].upper() for i in batch})
            finished.append(n)
        return out

    with pytest.raises(preempt.Preempted):
        journal.generate(stopped_after_two_batches, {"label": "eval_sft"}, PROMPTS, BATCHES, path, chunk_batches=4)
    done, stale = journal.read(path, PROMPTS)
    assert done == {i: PROMPTS[i].upper() for i in (0, 1, 2, 3, 4)} and stale == 0  # batches 1 and 2 of chunk 1

    again = Generator()
    out = journal.generate(again, {"label": "eval_sft"}, PROMPTS, BATCHES, path, chunk_batches=4)
    assert out == {i: p.upper() for i, p in PROMPTS.items()}
    assert again.asked == [5, 6, 7, 8, 9]


def test_torn_and_stale_lines_are_generated_again_never_trusted(tmp_path, caplog):
    path = tmp_path / "journal.jsonl"
    journal.generate(Generator(), {"label": "x"}, PROMPTS, BATCHES, path)
    lines = path.read_text().splitlines()
    assert len(lines) == 10
    changed = {**PROMPTS, 4: "a prompt that changed"}
    # the stop cut the last line in half; line 4's prompt is not the one now at index 4
    path.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:12])
    again = Generator()
    with caplog.at_level("INFO", logger="toolcall_dist.eval.journal"):
        out = journal.generate(again, {"label": "x"}, changed, BATCHES, path)
    assert sorted(again.asked) == [4, 9]
    assert out == {i: p.upper() for i, p in changed.items()}
    assert "8 completion(s) from the journal, 2 line(s) not usable" in caplog.text
    done, stale = journal.read(path, changed)  # the torn line stays a line of its own: nothing after it is lost
    assert done == out and stale == 2
    assert all(json.loads(x)["i"] in (4, 9) for x in path.read_text().splitlines()[-2:])


def test_a_line_cut_inside_a_character_is_generated_again(tmp_path):
    path = tmp_path / "journal.jsonl"
    prompts = {0: "Wetter in Zürich?", 1: "東京の天気"}
    journal.generate(lambda spec, p, b: {i: p[i] + " ☀" for i in p}, {}, prompts, [[0], [1]], path, chunk_batches=1)
    raw = path.read_bytes()
    path.write_bytes(raw[:-5])  # the stop fell inside the last line's "☀" (3 bytes in UTF-8), before `"}\n`
    again = Generator()
    out = journal.generate(again, {"label": "x"}, prompts, [[0], [1]], path)
    assert again.asked == [1] and out == {0: "Wetter in Zürich? ☀", 1: "東京の天気".upper()}
