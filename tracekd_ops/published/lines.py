"""Reading published output files line by line, keeping every line: one that cannot be read is
returned with the reason (file and line named), never skipped, so an import can count and list it.

JSON Lines (`.json` or `.jsonl`, as the reference study publishes them) and Parquet (`.parquet`,
as the Hugging Face Hub serves datasets; streamed by record batch with pyarrow, so a large file
is never held whole)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

JSON_SUFFIXES = (".json", ".jsonl")
PARQUET_SUFFIX = ".parquet"
SUFFIXES = (*JSON_SUFFIXES, PARQUET_SUFFIX)
MAX_LINE_BYTES = 4 * 1024 * 1024
"""A line longer than this is left out unread (a generation is a few KB; this bounds memory)."""
_PARQUET_MAGIC = b"PAR1"


@dataclass(frozen=True)
class Line:
    """One line (JSON Lines) or row (Parquet) of a file: its values, or why it has none."""

    number: int
    values: dict[str, Any] | None
    problem: str | None = None
    raw: str = ""
    """The line's text (cut to 2,000 characters), kept so a left-out line can be shown."""


def read_lines(path: Path) -> Iterator[Line]:
    """Every line of a published output file, in order. A file that is not what its name says
    (Parquet bytes in a .jsonl, text in a .parquet) is an error naming it and what it holds."""
    if path.suffix == PARQUET_SUFFIX:
        yield from _parquet_rows(path)
        return
    if path.suffix not in JSON_SUFFIXES:
        raise ValueError(f"{path}: expected a {', '.join(SUFFIXES)} file")
    with open(path, "rb") as handle:
        if handle.read(4) == _PARQUET_MAGIC:
            raise ValueError(f"{path}: holds Parquet bytes, but its name says JSON Lines: rename it to .parquet")
        handle.seek(0)
        for number, raw in enumerate(handle, start=1):
            yield _json_line(number, raw)


def _json_line(number: int, raw: bytes) -> Line:
    if len(raw) > MAX_LINE_BYTES:
        return Line(number, None, f"line {number} is {len(raw):,} bytes, over the {MAX_LINE_BYTES:,}-byte limit")
    try:
        text = raw.decode("utf-8").lstrip("\ufeff").rstrip("\r\n")
    except UnicodeDecodeError as error:
        return Line(number, None, f"line {number} is not UTF-8 ({error.reason} at byte {error.start})")
    shown = text[:2000]
    if not text.strip():
        return Line(number, None, f"line {number} is blank", shown)
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as error:
        reason = f"{error.msg} at column {error.colno}" if isinstance(error, json.JSONDecodeError) else "nested too deeply"
        return Line(number, None, f"line {number} is not valid JSON: {reason}", shown)
    if not isinstance(value, dict):
        return Line(number, None, f"line {number} is a JSON {type(value).__name__}, not an object", shown)
    return Line(number, value, None, shown)


def _parquet_rows(path: Path) -> Iterator[Line]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with open(path, "rb") as handle:
        if handle.read(4) != _PARQUET_MAGIC:
            raise ValueError(f"{path}: not a Parquet file (no PAR1 header), though its name says so")
    try:
        reader = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as error:
        raise ValueError(f"{path}: not a readable Parquet file: {error}") from None
    number = 0
    for batch in reader.iter_batches(batch_size=1024):
        for values in batch.to_pylist():
            number += 1
            yield Line(number, values, None, json.dumps(values, default=str, ensure_ascii=False)[:2000])
