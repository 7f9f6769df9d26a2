"""Every input's cost is bounded: a dataset file nested or sized to exhaust the machine is refused
at once, naming the file, the line or record and the field, and a bAbI story too long to be a
story is refused at the line that passes the limit (each question carries its story, so an
unbounded one grows with the square of its length)."""

from __future__ import annotations

import json
import resource
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracekd_ops.datasets.errors import DatasetFormatError
from tracekd_ops.datasets.files import READ_LIMITS, JsonShape, ReadLimits
from tracekd_ops.datasets.screening import LIMITS
from tracekd_ops.datasets.catalog import load_source

TEXT = st.text(alphabet=st.sampled_from(list('ab[]{}"\\\\ \n,:é')), max_size=12)
JSON = st.recursive(st.none() | st.booleans() | st.integers() | TEXT, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3), max_leaves=30)


def depth_of(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    return 0


def scanned_depth(text: bytes, limit: int, cuts: list[int]) -> int | None:
    """The deepest nesting the shape scan sees, fed `text` cut at `cuts`; None once past `limit`."""
    shape = JsonShape(Path("x.json"), ReadLimits(max_depth=limit), where="line 1")
    try:
        for start, end in zip([0, *cuts], [*cuts, len(text)]):
            shape.feed(text[start:end])
    except DatasetFormatError:
        return None
    return shape.deepest


@settings(max_examples=300, deadline=None)
@given(JSON, st.lists(st.integers(min_value=0, max_value=400), max_size=6))
def test_the_shape_scan_agrees_with_the_parse_whatever_the_strings_hold_and_wherever_the_chunks_end(value, cuts):
    text = json.dumps(value, ensure_ascii=False).encode()
    cuts = sorted({min(c, len(text)) for c in cuts})
    depth = depth_of(value)
    assert scanned_depth(text, 64, cuts) == depth
    assert scanned_depth(text, max(depth - 1, 1), cuts) is None or depth <= 1


def longest_string(value: object) -> int:
    """The longest string of `value`'s JSON text, quotes and escapes included."""
    if isinstance(value, list):
        return max((longest_string(v) for v in value), default=0)
    if isinstance(value, dict):
        return max((max(longest_string(k), longest_string(v)) for k, v in value.items()), default=0)
    return len(json.dumps(value, ensure_ascii=False).encode()) if isinstance(value, str) else 0


@settings(max_examples=300, deadline=None)
@given(JSON, st.integers(min_value=2, max_value=20))
def test_the_shape_scan_refuses_exactly_the_strings_past_the_field_limit(value, limit):
    import io

    text = json.dumps(value, ensure_ascii=False).encode()
    shape = JsonShape(Path("x.json"), ReadLimits(max_field_bytes=limit), where="line 1")
    try:
        shape.scan(io.BytesIO(text))
        refused = False
    except DatasetFormatError as error:
        refused = "(field)" in str(error)
    assert refused == (longest_string(value) > limit)


def peak_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


@pytest.mark.parametrize("layout", ["json lines", "json array"])
def test_a_400_kb_nested_field_is_refused_in_under_a_second_with_little_memory(tmp_path, layout, faults):
    nested = "[" * 200_000 + "]" * 200_000
    record = '{"index": 1, "question": "Q?", "facts": ["A."], "answer": ["A"], "x": ' + nested + "}"
    path = tmp_path / "equal.json"
    path.write_text(record + "\n" if layout == "json lines" else f"[{record}]")
    before, started = peak_mb(), time.monotonic()
    with pytest.raises(DatasetFormatError, match=rf"equal.json (line|record) 1 \(json\): nested deeper than {READ_LIMITS.max_depth} levels"):
        list(load_source("cotempqa", path))
    assert time.monotonic() - started < 1.0 and peak_mb() - before < 100
    faults.held("bad_input")


@pytest.mark.parametrize("layout", ["json lines", "json array"])
def test_an_overlong_record_is_refused_unread(tmp_path, layout, faults):
    path = tmp_path / "equal.json"
    record = json.dumps({"index": 1, "question": "Q" * 2000 + "?", "facts": ["A."], "answer": ["A"]})
    path.write_text(record + "\n" if layout == "json lines" else f"[{record}]")
    with pytest.raises(DatasetFormatError, match=r"equal.json (line|record) 1 \(record\): over 1,000 bytes \(the limit\)"):
        list(load_source("cotempqa", path, ReadLimits(max_record_bytes=1000)))
    faults.held("bad_input")


@pytest.mark.parametrize("layout", ["json lines", "json array", "msmarco columnar"])
def test_a_200_mb_field_is_refused_with_memory_flat(tmp_path, layout, faults):
    """A streaming parser still builds a whole string: the shape scan refuses it first, holding at
    most a limit's worth of it (a JSON Lines line is refused as a record, read no further than the
    record limit; in an array, the record limit is raised here so that the field limit is the one
    passed)."""
    path = tmp_path / ("dev_v2.1.json" if layout == "msmarco columnar" else "equal.json")
    with open(path, "w") as handle:
        if layout == "msmarco columnar":
            handle.write('{"query": {"0": "q"}, "answers": {"0": ["a"]}, "passages": {"0": [{"is_selected": 1, "passage_text": "')
        else:
            handle.write(("" if layout == "json lines" else "[") + '{"index": 1, "question": "Q?", "facts": ["')
        for _ in range(200):
            handle.write("A" * (1 << 20))
        handle.write('"]}' if layout != "msmarco columnar" else '"}]}}')
        handle.write("\n" if layout == "json lines" else "]" if layout == "json array" else "")
    before, started = peak_mb(), time.monotonic()
    limits = READ_LIMITS if layout == "json lines" else ReadLimits(max_record_bytes=300 << 20)
    dataset = "msmarco" if layout == "msmarco columnar" else "cotempqa"
    refused = r"line 1 \(record\): over 4,194,304 bytes" if layout == "json lines" else r"(record 1|cell 2) \(field\): a string of over 1,048,576 bytes"
    with pytest.raises(DatasetFormatError, match=refused):
        list(load_source(dataset, path, limits))
    assert peak_mb() - before < 100 and time.monotonic() - started < 5
    faults.held("bad_input")


def test_a_text_line_past_the_record_limit_is_refused_unread(tmp_path, faults):
    path = tmp_path / "qa1_single-supporting-fact_train.txt"
    path.write_text("1 Mary went to the " + "x" * 5000 + ".\n")
    with pytest.raises(DatasetFormatError, match=r"line 1 \(record\): over 4,096 bytes"):
        list(load_source("babi", path, ReadLimits(max_record_bytes=4096)))
    faults.held("bad_input")


def test_the_limits_are_settings_and_flags(tmp_path, capsys, faults):
    from tracekd_assets.cli import main
    from tracekd_assets.defs.resources import ExperimentSettings

    path = tmp_path / "equal.json"
    path.write_text(json.dumps({"index": 1, "question": "Q?", "facts": ["A."], "answer": ["A"], "x": [[[1]]]}) + "\n")
    assert ExperimentSettings(read_limits={"max_depth": 3}).file_limits() == ReadLimits(max_depth=3)
    with pytest.raises(ValueError, match="read_limits: unknown max_bytes; known: max_depth, max_record_bytes, max_field_bytes"):
        ExperimentSettings(read_limits={"max_bytes": 3})
    with pytest.raises(ValueError, match="read limit max_depth must be a positive integer; got 0"):
        ExperimentSettings(read_limits={"max_depth": 0})
    assert main(["datasets", "inspect", "cotempqa", str(path)]) == 0
    assert main(["datasets", "inspect", "cotempqa", str(path), "--max-depth", "3"]) == 1
    assert "equal.json line 1 (json): nested deeper than 3 levels (the limit)" in capsys.readouterr().err
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
