"""What a published line says, in TraceKD's terms, whatever its layout; and the refusal of a line
that cannot say it (the field named), which an import keeps with its reason."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any


class LineRefused(ValueError):
    """A line that cannot be joined to a record; the message names the field."""


@dataclass(frozen=True)
class LineFields:
    """What a line says, in TraceKD's terms, whatever its layout."""

    question: str
    facts: tuple[str, ...]
    answers: tuple[str, ...]
    generation: str
    category: str
    triple_element: str | None = None
    gold_fact_ids: tuple[int, ...] | None = None
    example_id: str | None = None
    prompt: str | None = None


def python_str_list(text: str) -> tuple[str, ...] | None:
    """A Python list literal of strings (the reference study writes facts and answers so), or None."""
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return None
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def text_list(value: Any, field: str) -> tuple[str, ...]:
    """A list of strings, or its Python repr as a string (as the study's CSVs write lists)."""
    if value is None:
        raise LineRefused(f"field {field}: missing")
    if isinstance(value, str):
        parsed = python_str_list(value)
        if parsed is None:
            raise LineRefused(f"field {field}: a string that is not a Python list of strings")
        return parsed
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise LineRefused(f"field {field}: expected a list of strings, got {type(value).__name__}")
    return tuple(value)


def text_field(values: dict[str, Any], field: str, required: bool = True) -> str | None:
    value = values.get(field)
    if value is None:
        if required:
            raise LineRefused(f"field {field}: missing")
        return None
    if not isinstance(value, str):
        raise LineRefused(f"field {field}: expected a string, got {type(value).__name__}")
    return value
