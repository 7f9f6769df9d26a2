"""Kinds of metadata values the steps report, so the Dagster layer can show each properly without
the library importing Dagster: plain values and JSON-able dicts/lists as they are, `Markdown` text
rendered, `Path`s as file links."""

from __future__ import annotations


class Markdown(str):
    """Text to be shown rendered as Markdown (tables, code blocks)."""
