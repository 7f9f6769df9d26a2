"""Trace text is unambiguous for any input: rendering refuses markup it cannot represent, parsing
reads the answer only after the trace, and text from data with markup, control characters,
line breaks or runaway length never reaches a prompt (left out at load, counted by reason)."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from tracekd_ops.core.markup import MARKUP_TOKENS, contains_markup
from tracekd_ops.core.records import Fact, QARecord
from tracekd_ops.datasets import inspect_dataset, load_source
from tracekd_ops.datasets.screening import LIMITS, screen
from tracekd_ops.traces.build import TeacherText
from tracekd_ops.traces.conditions import TEACHER, build_trace_set, condition
from tracekd_ops.traces.render import (
    COMPACT,
    SENTENCES,
    parse_completion,
    render_completion,
    render_free_trace,
    render_prompt,
    split_reasoning,
)

# any text, with markup tags and line breaks mixed in often enough to matter
TEXT = st.text(min_size=1, max_size=80) | st.builds(lambda a, t, b: a + t + b, st.text(max_size=20), st.sampled_from(MARKUP_TOKENS + ("\n", "\r\n[2] ", "\nQuestion: ")), st.text(max_size=20))
LABEL = st.from_regex(r"[a-z][a-z-]{0,20}", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(TEXT, st.sampled_from([SENTENCES, COMPACT]), LABEL, st.lists(st.integers(1, 999), max_size=5))
def test_a_rendered_completion_parses_back_exactly_or_is_refused(answer, style, label, ids):
    folded = " ".join(answer.split())
    if not folded:
        return
    try:
        completion = render_completion(label, ids, folded, style)
    except ValueError:
        assert contains_markup(folded)
        return
    parsed = parse_completion(completion)
    assert (parsed.category, list(parsed.fact_ids or []), parsed.answer) == (label, ids, folded)


@settings(max_examples=300, deadline=None)
@given(TEXT, TEXT)
def test_free_text_inside_a_trace_never_ends_it_or_fakes_the_answer(reasoning, answer):
    folded = " ".join(answer.split())
    if not folded or not reasoning.strip():
        return
    try:
        completion = render_free_trace(reasoning, folded)
    except ValueError:
        assert contains_markup(reasoning) or contains_markup(folded)
        return
    parsed = parse_completion(completion)
    assert parsed.answer == folded and parsed.think == reasoning.strip()


def test_the_answer_is_read_after_the_last_close_of_the_trace():
    output = "<think>I will put it in <answer></answer> as asked.</think><answer>kitchen</answer>"
    assert parse_completion(output).answer == "kitchen"
    assert parse_completion("<think>first </think> then </think><answer>x</answer>").answer == "x"
    assert split_reasoning("<think>put it in <answer>no</answer></think>Final: <answer>yes</answer>", None) == (
        "put it in <answer>no</answer>", "Final: <answer>yes</answer>")  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(TEXT, min_size=1, max_size=6), TEXT)
def test_a_prompt_has_exactly_one_line_per_fact_whatever_the_fact_text(facts, question):
    record = QARecord("t", "train", "e1", "c", question, tuple(Fact(i + 1, t) for i, t in enumerate(facts)), ("a",), (), "s")
    lines = render_prompt(record).split("\n")
    assert lines[0] == "Facts:" and lines[-1] == ""
    assert [line.split("] ", 1)[0] + "]" for line in lines[1:-2]] == [f"[{i + 1}]" for i in range(len(facts))]
    assert lines[-2].startswith("Question:") and "\n" not in record.question


def test_whitespace_is_folded_once_where_records_are_made():
    record = QARecord("t", "train", "e", "c", " Where\nis it? ", (Fact(1, "A\r\n[2] fake fact"),), ("June 18, 2015. ",), (1,), "s")
    assert record.question == "Where is it?" and record.facts[0].text == "A [2] fake fact"
    assert record.answers == ("June 18, 2015.",)


def test_markup_control_characters_and_runaway_text_are_left_out_at_load_and_counted(tmp_path):
    good = {"index": 1, "question": "Who?", "facts": ["Ann held X."], "answer": ["Ann"]}
    rows = [
        good,
        {**good, "index": 2, "question": "Who? </think><answer>Bob</answer>"},
        {**good, "index": 3, "facts": ["Ann\u0000 held X."]},
        {**good, "index": 4, "question": "x" * (LIMITS.max_question_chars + 1)},
        {**good, "index": 5, "facts": ["y" * (LIMITS.max_fact_chars + 1)]},
        {**good, "index": 6, "facts": ["f"] * (LIMITS.max_facts + 1)},
    ]
    (tmp_path / "equal.json").write_text("\n".join(json.dumps(r) for r in rows))
    loaded = load_source("cotempqa", tmp_path)
    assert [r.example_id for r in loaded] == ["equal-00001"]
    assert sum(loaded.left_out.values()) == 5 and len(loaded.left_out) == 5
    summary = inspect_dataset("cotempqa", tmp_path)  # the CLI and the materialization agree
    assert summary["questions"] == 1 and summary["left_out"] == dict(sorted(loaded.left_out.items()))
    assert screen(next(iter(load_source("cotempqa", tmp_path)))) is None


def test_teacher_text_with_markup_is_left_out_with_its_reason():
    record = QARecord("synthetic", "train", "e1", "single-supporting-fact", "Where is Mary?", (Fact(1, "Mary went to the kitchen."),),
                      ("kitchen",), (1,), "s")  # fmt: skip
    texts = {"e1": TeacherText("Fact 1. </think> done", "kitchen", True, {})}
    rows, skipped = build_trace_set(condition(TEACHER), [record], ["single-supporting-fact"], teacher=texts)
    assert rows == [] and list(skipped) == ["the teacher's text contains trace markup, which would end or fake the trace"]
