"""Reading dataset files as people download them: text decoded line by line (a UTF-8 byte-order
mark accepted, CRLF or LF), and JSON in each published layout — JSON Lines, one JSON array
(`[ {...}, {...} ]`, as `json.dump` of `datasets` rows writes it; streamed, never loaded whole) —
each record paired with where it stands (`line N` / `record N`), so an error names the file by
its full path, the place and the field."""

from __future__ import annotations

import json
import re
from pathlib import Path
from dataclasses import dataclass
from typing import Any, BinaryIO, Callable, Iterable, Iterator

from tracekd_ops.datasets.errors import DatasetFormatError

BOM = b"\xef\xbb\xbf"
CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class ReadLimits:
    """What one record of a dataset file may cost before it is parsed. Checked on the raw bytes in
    bounded memory (a scan of brackets and whole strings), so a file built to exhaust the machine is
    refused at the place that passes a limit: parsing deep nesting cost memory growing with the
    square of the depth (a 400 KB line of nested brackets took 22.9 GB, or a RecursionError), and a
    streaming parser still builds a whole string value, however long. Generous for every published
    record here: they nest 3 deep, the longest field is an MS MARCO passage of a few KB, the longest
    record an MS MARCO query with its ten passages (~10 KB)."""

    max_depth: int = 64
    max_record_bytes: int = 4 * 1024 * 1024
    """A JSON record (a JSON Lines line, an array element), or a line of a text file."""
    max_field_bytes: int = 1024 * 1024
    """One JSON string, key or value, as written (escapes included)."""

    def __post_init__(self) -> None:
        for name in ("max_depth", "max_record_bytes", "max_field_bytes"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"read limit {name} must be a positive integer; got {getattr(self, name)!r}")


READ_LIMITS = ReadLimits()
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"')
_NEXT_STRUCTURE = re.compile(rb'(?:[^"\[\]{}\\]++|"(?:[^"\\]++|\\.)*+")*+([\[\]{}"\\]|\Z)')
"""Skips plain text and whole strings (possessive: no backtracking, in C) up to the next bracket,
a quote whose string does not end in the bytes at hand, a stray backslash, or the end (so that a
match never fails: a failed match would be retried from every later byte)."""


class JsonShape:
    """A linear scan of JSON bytes, fed in chunks, that raises as soon as the text nests deeper,
    holds a longer string, or a record runs longer than `limits` allows. A record is a value opened
    at depth `record_depth` (1: the elements of a top-level array; 2: the cells of a columnar
    object); `where` names the place for a text that is one record (a JSON Lines line)."""

    def __init__(self, path: Path, limits: ReadLimits, record_depth: int = 0, where: str | None = None, word: str = "record") -> None:
        self.path, self.limits, self.record_depth, self.where, self.word = path, limits, record_depth, where, word
        self.depth = self.deepest = self.records = 0
        self.record_start: int | None = None
        self.offset = 0  # bytes consumed before `pending`
        self.pending = b""  # an open string carried to the next chunk

    def _place(self) -> str:
        if self.where is not None:
            return self.where
        return f"{self.word} {self.records}" if self.record_start is not None else f"after {self.word} {self.records}"

    def _refuse(self, field: str, message: str) -> None:
        raise DatasetFormatError(self.path, self._place(), field, message)

    def feed(self, chunk: bytes) -> None:
        """Scan the next bytes; never more than `limits.max_field_bytes` at once (see `scan`), so
        only a string carried over from the last chunk can be longer than the limit."""
        text, base = self.pending + chunk, self.offset
        position = 0
        if self.pending:  # the string left open by the last chunk
            carried = _STRING.match(text)
            if carried is None:
                self.pending, self.offset = text, base
                self._check_open()
                return
            if carried.end() > self.limits.max_field_bytes:
                self._refuse("field", f"a string of {carried.end():,} bytes, over the {self.limits.max_field_bytes:,}-byte limit")
            else:
                position = carried.end()
        for match in _NEXT_STRUCTURE.finditer(text, position):
            char, at = match.group(1), match.start(1)
            position = match.end()
            if char == b'"' or not char:  # a string still open at the end of these bytes is carried over
                position = at
                break
            if char == b"[" or char == b"{":
                self.depth += 1
                if self.depth == self.record_depth + 1 and self.record_depth:
                    self.records += 1
                    self.record_start = base + at
                if self.depth > self.limits.max_depth:
                    self._refuse("json", f"nested deeper than {self.limits.max_depth} levels (the limit)")
                self.deepest = max(self.deepest, self.depth)
            elif char != b"\\":  # a stray backslash is the parser's to name
                self.depth -= 1
                if self.depth == self.record_depth and self.record_start is not None:
                    self._check_record(base + position)
                    self.record_start = None
        self.pending = text[position:]
        self.offset = base + position
        self._check_open()

    def _check_open(self) -> None:
        """The limits a string or a record still open at the end of the bytes seen has passed already."""
        if len(self.pending) > self.limits.max_field_bytes:
            self._refuse("field", f"a string of over {self.limits.max_field_bytes:,} bytes (the limit)")
        if self.record_start is not None:
            self._check_record(self.offset + len(self.pending))

    def _check_record(self, end: int) -> None:
        if end - (self.record_start or 0) > self.limits.max_record_bytes:
            self._refuse("record", f"over {self.limits.max_record_bytes:,} bytes (the limit)")

    def scan(self, handle: BinaryIO) -> None:
        while chunk := handle.read(min(CHUNK_BYTES, self.limits.max_field_bytes)):
            self.feed(chunk)

    def scan_bytes(self, text: bytes) -> None:
        """A whole text (one JSON Lines line): nothing to scan when it is too short to hold a field
        past the limit and holds too few brackets to nest past it (counted in C)."""
        if len(text) <= self.limits.max_field_bytes and text.count(b"[") + text.count(b"{") <= self.limits.max_depth:
            return
        step = min(CHUNK_BYTES, self.limits.max_field_bytes)
        for start in range(0, len(text), step):
            self.feed(text[start : start + step])


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


def decoded_lines(path: Path, limits: ReadLimits = READ_LIMITS) -> Iterator[tuple[int, str]]:
    """(line number, text without the line end) for every line, CRLF or LF, a leading BOM dropped;
    a line longer than `limits.max_record_bytes` is an error, read no further than the limit."""
    with open(path, "rb") as handle:
        line_no = 0
        while raw := handle.readline(limits.max_record_bytes + 1):
            line_no += 1
            if len(raw) > limits.max_record_bytes and not raw.endswith(b"\n"):
                raise DatasetFormatError(path, f"line {line_no}", "record", f"over {limits.max_record_bytes:,} bytes (the limit)")
            if line_no == 1 and raw.startswith(BOM):
                raw = raw[len(BOM) :]
            try:
                yield line_no, raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as error:
                raise DatasetFormatError(path, f"line {line_no}", "encoding", f"not UTF-8 ({error.reason})") from None


def json_lines(path: Path, limits: ReadLimits = READ_LIMITS) -> Iterator[tuple[str, Any]]:
    """("line N", parsed value) for every non-blank line of a JSON Lines file; a line past one of
    `limits` is an error before it is parsed."""
    for line_no, text in decoded_lines(path, limits):
        if not text.strip():
            continue
        where = f"line {line_no}"
        JsonShape(path, limits, where=where).scan_bytes(text.encode())
        try:
            yield where, json.loads(text)
        except json.JSONDecodeError as error:
            raise DatasetFormatError(path, where, "json", f"not valid JSON: {error.msg} at column {error.colno}") from None


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


def check_json_shape(path: Path, limits: ReadLimits, record_depth: int, word: str = "record") -> None:
    """A first pass over a whole JSON file, in chunks: an error naming the record as soon as one
    passes a limit, so the parse that follows never meets input it cannot bound."""
    with open_json(path) as handle:
        JsonShape(path, limits, record_depth, word=word).scan(handle)


def json_array(path: Path, limits: ReadLimits = READ_LIMITS) -> Iterator[tuple[str, Any]]:
    """("record N", value) for every element of a top-level JSON array, streamed (ijson), after a
    first pass that refuses a record past one of `limits`."""
    import ijson

    check_json_shape(path, limits, record_depth=1)
    number = 0
    with open_json(path) as handle:
        try:
            for number, value in enumerate(ijson.items(handle, "item", use_float=True), start=1):
                yield f"record {number}", value
        except ijson.JSONError as error:
            raise DatasetFormatError(path, f"after record {number}", "json", f"not valid JSON: {error}") from None
        except UnicodeDecodeError as error:
            raise DatasetFormatError(path, f"after record {number}", "encoding", f"not UTF-8 ({error.reason})") from None


def json_records(path: Path, limits: ReadLimits = READ_LIMITS) -> Iterator[tuple[str, Any]]:
    """The records of a JSON file in either row layout: a JSON array, or JSON Lines."""
    return json_array(path, limits) if first_character(path) == "[" else json_lines(path, limits)


PARQUET_MAGIC = b"PAR1"
_KIND_OF_SUFFIX = {".parquet": "parquet", ".json": "json", ".jsonl": "json", ".txt": "text"}
_DESCRIBED = {"parquet": "Parquet", "json": "JSON text", "text": "plain text", "binary": "binary data (not text)", "empty": "no data"}


def file_kind(path: Path) -> str:
    """What a file holds, from its first bytes: parquet | json | text | binary | empty."""
    with open(path, "rb") as handle:
        head = handle.read(4096)
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    stripped = head.removeprefix(BOM).lstrip()
    if not stripped:
        return "empty"
    if b"\x00" in head:
        return "binary"
    return "json" if stripped[:1] in (b"[", b"{") else "text"


def check_kind(path: Path) -> str:
    """The kind of a data file, checked against its name: a `.parquet` file that is not Parquet, or
    a `.json`/`.jsonl`/`.txt` file that holds Parquet or binary bytes, is an error saying what the
    file holds and what its name promised (read as what it claims, it fails with a misleading
    encoding or syntax error)."""
    kind, named = file_kind(path), _KIND_OF_SUFFIX.get(path.suffix.lower())
    mismatched = named == "parquet" and kind != "parquet" or named in ("json", "text") and kind in ("parquet", "binary")
    if mismatched:
        raise DatasetFormatError(path, "file", "format", f"holds {_DESCRIBED[kind]}, but its name ({path.suffix}) says {_DESCRIBED[named or kind]}")
    return kind


def parquet_rows(path: Path, batch_rows: int = 1024) -> Iterator[tuple[str, dict[str, Any]]]:
    """("row N", row) for every row of a Parquet file, read a batch at a time with pyarrow (memory
    bounded by a row group, not the file); Hub nested columns (MS MARCO's `passages` struct of
    lists, bAbI's `story`) arrive as the dicts of lists the Hub's rows are."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path, pre_buffer=False)  # pre-buffering held twice the memory (329 MB against 159 MB at 200,000 rows)
    except (pa.ArrowException, OSError) as error:
        raise DatasetFormatError(path, "file", "parquet", f"not a readable Parquet file: {error}") from None
    number = 0
    try:
        for batch in parquet.iter_batches(batch_size=batch_rows):
            for row in batch.to_pylist():
                number += 1
                yield f"row {number}", row
    except (pa.ArrowException, OSError) as error:
        raise DatasetFormatError(path, f"after row {number}", "parquet", f"unreadable: {error}") from None


def data_rows(path: Path, limits: ReadLimits = READ_LIMITS) -> Iterator[tuple[str, Any]]:
    """The rows of a data file in any row layout people download: Parquet, a JSON array, or JSON
    Lines; its kind checked against its name first."""
    if check_kind(path) == "parquet":
        return parquet_rows(path)
    return json_records(path, limits)
