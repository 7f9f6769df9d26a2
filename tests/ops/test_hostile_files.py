"""Every input's cost is bounded: a dataset file nested or sized to exhaust the machine is refused
at once, naming the file, the line or record and the field, and a bAbI story too long to be a
story is refused at the line that passes the limit (each question carries its story, so an
unbounded one grows with the square of its length)."""

from __future__ import annotations

import json
import resource
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracekd_ops.datasets.errors import DatasetFormatError
from tracekd_ops.datasets.files import MAX_DEPTH, json_depth
from tracekd_ops.datasets.screening import LIMITS
from tracekd_ops.datasets.specs import load_source

TEXT = st.text(alphabet=st.sampled_from(list('ab[]{}"\\\\ \n,:é')), max_size=12)
JSON = st.recursive(st.none() | st.booleans() | st.integers() | TEXT, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3), max_leaves=30)


def depth_of(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_the_depth_scan_agrees_with_the_parse_whatever_the_strings_hold(value):
    text = json.dumps(value, ensure_ascii=False).encode()
    assert json_depth(text) == depth_of(value)
    assert json_depth(text, limit=depth_of(value) - 1) is None or depth_of(value) == 0


def peak_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


@pytest.mark.parametrize("layout", ["json lines", "json array"])
def test_a_400_kb_nested_field_is_refused_in_under_a_second_with_little_memory(tmp_path, layout, faults):
    nested = "[" * 200_000 + "]" * 200_000
    record = '{"index": 1, "question": "Q?", "facts": ["A."], "answer": ["A"], "x": ' + nested + "}"
    path = tmp_path / "equal.json"
    path.write_text(record + "\n" if layout == "json lines" else f"[{record}]")
    before, started = peak_mb(), time.monotonic()
    with pytest.raises(DatasetFormatError, match=rf"equal.json (line|record) 1 \(json\): nested deeper than {MAX_DEPTH} levels"):
        list(load_source("cotempqa", path))
    assert time.monotonic() - started < 1.0 and peak_mb() - before < 100
    faults.held("bad_input")


def test_an_overlong_record_is_refused_unread(tmp_path, monkeypatch, faults):
    from tracekd_ops.datasets import files

    monkeypatch.setattr(files, "MAX_RECORD_BYTES", 1000)
    path = tmp_path / "equal.json"
    path.write_text(json.dumps({"index": 1, "question": "Q" * 2000 + "?", "facts": ["A."], "answer": ["A"]}) + "\n")
    with pytest.raises(DatasetFormatError, match=r"line 1 \(record\): 2,\d{3} bytes, over the 1,000-byte limit"):
        list(load_source("cotempqa", path))
    faults.held("bad_input")


def test_a_story_too_long_for_a_story_is_refused_fast(tmp_path, faults):
    """16,000 lines in one story (1.1 MB) took over 300 s; it is refused at the line past the limit."""
    lines, n = [], 1
    for k in range(8000):
        lines += [f"{n} Mary went to the room{k}.", f"{n + 1} Where is Mary?\troom{k}\t{n}"]
        n += 2
    path = tmp_path / "qa1_single-supporting-fact_train.txt"
    path.write_text("\n".join(lines) + "\n")
    started = time.monotonic()
    with pytest.raises(DatasetFormatError, match=rf"line {2 * LIMITS.max_facts + 1} \(story\): more than {LIMITS.max_facts} facts"):
        list(load_source("babi", path))
    assert time.monotonic() - started < 1.0
    faults.held("bad_input")
