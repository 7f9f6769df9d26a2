"""Line readers shared by the text loaders: each line decoded on its own, so an encoding or JSON
error names its line, and nothing holds more than one line of a large file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from tracekd_ops.datasets.errors import DatasetFormatError


def dataset_files(
    path: Path | str,
    dataset: str,
    candidates: Callable[[Path], Iterable[Path]],
    expected: str,
    order: Callable[[Path], Any] = lambda p: p.name,
) -> list[Path]:
    """A file is itself; a folder gives its `candidates`, sorted by `order`. A missing path or a
    folder with none of the expected files is an error saying what was looked for."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"no {dataset} file or folder at {path}")
    files = sorted(candidates(path), key=order)
    if not files:
        raise DatasetFormatError(path, "folder", "file names", f"no {expected} files found")
    return files


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
