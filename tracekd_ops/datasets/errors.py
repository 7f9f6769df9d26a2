"""The one error type loaders raise: it names the file, the line or record, and the field."""

from __future__ import annotations

from pathlib import Path


class DatasetFormatError(ValueError):
    """Malformed input. `str()` reads e.g. `qa1_train.txt line 7 (supporting ids): points at no fact: 9`."""

    def __init__(self, path: Path | str, where: str, field: str, problem: str) -> None:
        self.path, self.where, self.field, self.problem = str(path), where, field, problem
        super().__init__(f"{path} {where} ({field}): {problem}")
