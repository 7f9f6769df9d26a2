"""Line readers shared by the text loaders: each line decoded on its own, so an encoding or JSON
error names its line, and nothing holds more than one line of a large file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from tracekd_ops.datasets.errors import DatasetFormatError


def decoded_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text without the line end) for every line, CRLF or LF."""
    with open(path, "rb") as handle:
        for line_no, raw in enumerate(handle, start=1):
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
