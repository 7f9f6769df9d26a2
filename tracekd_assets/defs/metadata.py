"""Step outcomes' metadata as Dagster shows it: dicts and lists as JSON, `Markdown` rendered,
paths as file links, plain values as they are. The one place that converts."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from dagster import MetadataValue

from tracekd_ops.core.metadata import Markdown


def as_metadata(values: Mapping[str, Any]) -> dict[str, Any]:
    def convert(value: Any) -> Any:
        if isinstance(value, Markdown):
            return MetadataValue.md(str(value))
        if isinstance(value, Path):
            return MetadataValue.path(str(value))
        if isinstance(value, (dict, list, tuple)):
            return MetadataValue.json(value)
        return value

    return {key: convert(value) for key, value in values.items()}
