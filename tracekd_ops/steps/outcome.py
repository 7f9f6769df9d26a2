"""What every step returns: one plain record the orchestrator shows (its metadata, checks and
messages), so each caller turns outcomes into its own terms in one place and no step knows it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Level = Literal["info", "warning", "error"]
Severity = Literal["error", "warn"]
Pairs = tuple[tuple[str, str], ...]
"""(upstream table, column) pairs a column is computed from."""


@dataclass(frozen=True)
class Check:
    """A check the step ran on what it built: an `error` one that fails blocks what reads it."""

    name: str
    passed: bool
    severity: Severity = "error"
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StepOutcome:
    """What a step did, for the log and the asset's page. Metadata values are plain, `Markdown` or
    a `Path`; the caller converts them."""

    metadata: dict[str, Any] = field(default_factory=dict)
    tables: tuple[str, ...] = ()
    """The core tables written, the primary one first (its declared column lineage is shown)."""
    rows: int | None = None
    """Rows of the primary table written, where the step counts them."""
    messages: tuple[tuple[Level, str], ...] = ()
    """(level, text) to say once the step is done: rows left out, a failed suite, ..."""
    checks: tuple[Check, ...] = ()
    failure: str | None = None
    """Why the caller must fail though the step stored what it could (pushes left pending)."""
    skipped: str | None = None
    """Why the step did nothing (no teacher configured, nothing to import)."""
    lineage: dict[str, Pairs] = field(default_factory=dict)
    """Output column -> its sources, where the step computes them (a SQL model's, from its SQL);
    empty: the declared lineage of the primary table."""
    columns: tuple[tuple[str, str, str], ...] = ()
    """(name, type, comment) of the built table's columns, where only the step knows them (a SQL model)."""
