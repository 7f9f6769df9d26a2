"""Reading dataset files as people download them: text decoded line by line (a UTF-8 byte-order
mark accepted, CRLF or LF), and JSON in each published layout — JSON Lines, one JSON array
(`[ {...}, {...} ]`, as `json.dump` of `datasets` rows writes it; streamed, never loaded whole) —
each record paired with where it stands (`line N` / `record N`), so an error names the file by
its full path, the place and the field."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator

from tracekd_ops.datasets.errors import DatasetFormatError

BOM = b"\xef\xbb\xbf"
MAX_RECORD_BYTES = 4 * 1024 * 1024
"""A JSON record (a line of JSON Lines) longer than this is refused unread: the published records
are a few KB (an MS MARCO query with its ten passages ~10 KB)."""
MAX_DEPTH = 64
"""JSON nested deeper than this is refused before it is parsed: the published records nest 3 deep.
Parsing deeper input cost memory growing with the square of the depth (a 400 KB line of nested
brackets took 22.9 GB), or a RecursionError."""
_STRUCTURE = re.compile(rb'[\[\]{}"\\]')


def json_depth(text: bytes, limit: int = MAX_DEPTH) -> int | None:
    """How deep `text` nests, scanning only its brackets, quotes and backslashes (linear, no
    parse); None as soon as it nests deeper than `limit`."""
    depth = deepest = 0
    in_string, escaped_at = False, -1
    for match in _STRUCTURE.finditer(text):
        char, at = match.group(), match.start()
        if in_string:
            if at == escaped_at:  # the character a backslash escapes
                continue
            if char == b"\\":
                escaped_at = at + 1
            elif char == b'"':
                in_string = False
            continue
        if char == b'"':
            in_string = True
        elif char in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return None
            deepest = max(deepest, depth)
        elif char in (b"]", b"}"):
            depth -= 1
    return deepest


def dataset_files(
    path: Path | str,
    dataset: str,
    candidates: Callable[[Path], Iterable[Path]],
    expected: str,
    order: Callable[[Path], Any] = lambda p: p.name,
) -> list[Path]:
    """A file is itself; a folder gives its `candidates`, sorted by `order`. A missing path or a
    folder with none of the expected files is an error saying what was looked for."""
    path = Path(path).resolve()
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"no {dataset} file or folder at {path}")
    files = sorted(candidates(path), key=order)
    if not files:
        raise DatasetFormatError(path, "folder", "file names", f"no {expected} files found")
    return files


def decoded_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text without the line end) for every line, CRLF or LF, a leading BOM dropped."""
    with open(path, "rb") as handle:
        for line_no, raw in enumerate(handle, start=1):
            if line_no == 1 and raw.startswith(BOM):
                raw = raw[len(BOM) :]
            try:
                yield line_no, raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as error:
                raise DatasetFormatError(path, f"line {line_no}", "encoding", f"not UTF-8 ({error.reason})") from None


def json_lines(path: Path) -> Iterator[tuple[str, Any]]:
    """("line N", parsed value) for every non-blank line of a JSON Lines file; a line over
    `MAX_RECORD_BYTES` or nested deeper than `MAX_DEPTH` is an error before it is parsed."""
    for line_no, text in decoded_lines(path):
        if not text.strip():
            continue
        raw = text.encode()
        if len(raw) > MAX_RECORD_BYTES:
            raise DatasetFormatError(path, f"line {line_no}", "record", f"{len(raw):,} bytes, over the {MAX_RECORD_BYTES:,}-byte limit")
        if json_depth(raw) is None:
            raise DatasetFormatError(path, f"line {line_no}", "json", f"nested deeper than {MAX_DEPTH} levels (the limit)")
        try:
            yield f"line {line_no}", json.loads(text)
        except json.JSONDecodeError as error:
            raise DatasetFormatError(path, f"line {line_no}", "json", f"not valid JSON: {error.msg} at column {error.colno}") from None


def open_json(path: Path) -> BinaryIO:
    """The file positioned after any BOM, for a streaming JSON parser."""
    handle = open(path, "rb")
    if handle.read(len(BOM)) != BOM:
        handle.seek(0)
    return handle


def first_character(path: Path) -> str:
    """The first non-whitespace character of a file (after any BOM); '' for an empty file."""
    with open_json(path) as handle:
        while chunk := handle.read(4096):
            stripped = chunk.lstrip()
            if stripped:
                return stripped[:1].decode("utf-8", errors="replace")
    return ""


def _check_array_depth(path: Path) -> None:
    """A first streaming pass over the array's parse events (no value, no prefix is built): an error
    naming the record as soon as one nests deeper than `MAX_DEPTH`."""
    import ijson

    depth, record = 0, 0
    with open_json(path) as handle:
        try:
            for event, _ in ijson.basic_parse(handle):  # no prefixes: `parse` builds one per event, as long as the depth
                if event in ("start_map", "start_array"):
                    depth += 1
                    if depth == 2:
                        record += 1
                    if depth > MAX_DEPTH:
                        raise DatasetFormatError(path, f"record {record}", "json", f"nested deeper than {MAX_DEPTH} levels (the limit)")
                elif event in ("end_map", "end_array"):
                    depth -= 1
        except (ijson.JSONError, UnicodeDecodeError):
            return  # the second pass names the syntax error where it is


def json_array(path: Path) -> Iterator[tuple[str, Any]]:
    """("record N", value) for every element of a top-level JSON array, streamed (ijson), after a
    first pass that refuses a record nested deeper than `MAX_DEPTH`."""
    import ijson

    _check_array_depth(path)
    number = 0
    with open_json(path) as handle:
        try:
            for number, value in enumerate(ijson.items(handle, "item", use_float=True), start=1):
                yield f"record {number}", value
        except ijson.JSONError as error:
            raise DatasetFormatError(path, f"after record {number}", "json", f"not valid JSON: {error}") from None
        except UnicodeDecodeError as error:
            raise DatasetFormatError(path, f"after record {number}", "encoding", f"not UTF-8 ({error.reason})") from None


def json_records(path: Path) -> Iterator[tuple[str, Any]]:
    """The records of a JSON file in either row layout: a JSON array, or JSON Lines."""
    return json_array(path) if first_character(path) == "[" else json_lines(path)
