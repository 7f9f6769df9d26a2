"""The registry index: the DuckDB table `registry`, one row per training run of a student, and
the only code that reads or writes it.

A row is recorded when a training run registers its checkpoint (`pending` until a Hub push
succeeds), completed when the push lands, given its metrics once evaluated; sensors ask it which
revisions appeared since their cursor, evaluation asks it for the newest revision of every student.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from tracekd_ops.core.lineage import Lineage
from tracekd_ops.registry.base import PENDING, REGISTERED, Registered
from tracekd_ops.store.store import Store


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


@dataclass(frozen=True)
class RegistryEntry:
    """One row of the index: a student's training run, its registration and (once known) metrics."""

    lineage: Lineage
    """With `model_revision` set to the registered revision."""
    model_name: str
    backend: str
    uri: str
    status: str
    hyperparameters: dict[str, Any]
    train_summary: dict[str, Any]
    created_at: datetime
    local_revision: str
    config_fingerprint: str | None
    error: str | None
    registered_at: datetime | None
    content_digest: str | None = None

    @property
    def revision(self) -> str:
        return str(self.lineage.model_revision)

    def registered(self) -> Registered:
        return Registered(self.model_name, self.revision, self.backend, self.uri, self.created_at, self.status,
                          self.local_revision, self.error, self.content_digest)  # fmt: skip

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "RegistryEntry":
        return cls(
            lineage=Lineage.from_row({**row, "student": row.get("student") or "", "model_revision": row["revision"]}),
            model_name=row["model_name"],
            backend=row["backend"],
            uri=row["uri"],
            status=row["status"],
            hyperparameters=json.loads(row["hyperparameters"]),
            train_summary=json.loads(row["train_summary"]),
            created_at=row["created_at"],
            local_revision=row["local_revision"] or row["revision"],
            config_fingerprint=row["config_fingerprint"],
            error=row["error"],
            registered_at=row["registered_at"],
            content_digest=row.get("content_digest"),
        )


class RegistryIndex:
    """The `registry` table of a store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _entries(self, where: str, params: list[Any], order: str = "created_at") -> list[RegistryEntry]:
        rows = self.store.rows(f"SELECT * FROM registry WHERE {where} ORDER BY {order}", params)
        return [RegistryEntry.from_row(row) for row in rows]

    def record(self, registered: Registered, lineage: Lineage, fingerprint: str, hyperparameters: dict[str, Any],
               summary: dict[str, Any]) -> None:  # fmt: skip
        """Add the row of a new registration (pending or registered)."""
        self.store.append("registry", [{
            **lineage.training_row(),
            "model_name": registered.model_name,
            "revision": registered.revision,
            "backend": registered.backend,
            "uri": registered.uri,
            "status": registered.status,
            "hyperparameters": json.dumps(hyperparameters, sort_keys=True, default=str),
            "train_summary": json.dumps(summary, sort_keys=True),
            "created_at": registered.created_at,
            "local_revision": registered.local_revision or registered.revision,
            "config_fingerprint": fingerprint,
            "error": registered.error,
            "registered_at": None if registered.status == PENDING else _now(),
            "content_digest": registered.content_digest,
        }])  # fmt: skip

    def pending(self, lineage: Lineage, fingerprint: str) -> list[RegistryEntry]:
        """Registrations of this very training (same student, trace set and settings) whose push
        has not landed yet, newest first."""
        return self._entries(
            "status = ? AND model_name = ? AND trace_set_version = ? AND config_fingerprint = ?",
            [PENDING, lineage.model_name, lineage.trace_set_version, fingerprint],
            order="created_at DESC",
        )

    def update(self, registered: Registered) -> None:
        """Record the outcome of completing a pending registration."""
        self.store.execute(
            """UPDATE registry SET revision = ?, uri = ?, status = ?, error = ?, registered_at = ?
               WHERE model_name = ? AND local_revision = ?""",
            [registered.revision, registered.uri, registered.status, registered.error,
             None if registered.status == PENDING else _now(), registered.model_name,
             registered.local_revision or registered.revision],
        )  # fmt: skip

    def get(self, revision: str) -> RegistryEntry:
        entries = self._entries("revision = ?", [revision])
        if not entries:
            raise LookupError(f"no registry row for revision {revision!r}")
        return entries[0]

    def newest(self, dataset: str, condition: str) -> list[RegistryEntry]:
        """The newest registered revision of every student trained on this trace set's partition."""
        rows = self.store.rows(
            """SELECT * FROM registry WHERE dataset = ? AND condition = ? AND status = ?
               QUALIFY row_number() OVER (PARTITION BY student, base_model, seed ORDER BY created_at DESC) = 1
               ORDER BY student, base_model, seed""",
            [dataset, condition, REGISTERED],
        )
        return [RegistryEntry.from_row(row) for row in rows]

    def cut_short(self, datasets: list[str]) -> list[RegistryEntry]:
        """The newest students of `datasets` that their wall-time budget stopped before their last
        step: their accuracy says more about the machine than about the condition."""
        return [entry for dataset, condition in self.trained_partitions() if dataset in datasets
                for entry in self.newest(dataset, condition) if entry.train_summary.get("stopped_by_time_budget")]  # fmt: skip

    def latest_registration(self) -> datetime | None:
        """When the newest revision was registered (a sensor's starting cursor)."""
        return self.store.rows("SELECT max(registered_at) AS t FROM registry WHERE status = ?", [REGISTERED])[0]["t"]

    def registered_since(self, moment: datetime) -> list[RegistryEntry]:
        return self._entries("status = ? AND registered_at > ?", [REGISTERED, moment], order="registered_at")

    def evaluated(self, revisions: list[str]) -> set[str]:
        """Which of `revisions` have metrics already (evaluated by the run that trained them)."""
        rows = self.store.rows("SELECT revision FROM registry WHERE revision IN (SELECT unnest(?::VARCHAR[])) AND metrics IS NOT NULL",
                               [revisions])  # fmt: skip
        return {row["revision"] for row in rows}

    def trained_partitions(self) -> list[tuple[str, str]]:
        """(dataset, condition) of every partition with a registered student."""
        rows = self.store.rows("SELECT DISTINCT dataset, condition FROM registry WHERE status = ? ORDER BY ALL", [REGISTERED])
        return [(row["dataset"], row["condition"]) for row in rows]

    def names_taken(self, names: list[str], except_backend: str) -> list[str]:
        """Which of `names` a student of another backend is registered under."""
        rows = self.store.rows("SELECT DISTINCT model_name FROM registry WHERE backend <> ? AND model_name IN (SELECT unnest(?::VARCHAR[])) "
                               "ORDER BY model_name", [except_backend, names])  # fmt: skip
        return [r["model_name"] for r in rows]

    def attach_metrics(self, revision: str, metrics: dict[str, float]) -> None:
        self.store.execute("UPDATE registry SET metrics = ? WHERE revision = ?", [json.dumps(metrics, sort_keys=True), revision])
