"""Reading dataset files as people download them: text decoded line by line (a UTF-8 byte-order
mark accepted, CRLF or LF), and JSON in each published layout — JSON Lines, one JSON array
(`[ {...}, {...} ]`, as `json.dump` of `datasets` rows writes it; streamed, never loaded whole) —
each record paired with where it stands (`line N` / `record N`), so an error names the file by
its full path, the place and the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator

from tracekd_ops.datasets.errors import DatasetFormatError

BOM = b"\xef\xbb\xbf"


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
    """("line N", parsed value) for every non-blank line of a JSON Lines file."""
    for line_no, text in decoded_lines(path):
        if not text.strip():
            continue
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


def json_array(path: Path) -> Iterator[tuple[str, Any]]:
    """("record N", value) for every element of a top-level JSON array, streamed (ijson)."""
    import ijson

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
