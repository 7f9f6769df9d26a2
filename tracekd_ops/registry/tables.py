"""The table the registry index keeps, `registry`: every student checkpoint. Its queries are the
index's (`index.py`)."""

from __future__ import annotations

from tracekd_ops.core.tables import Table

REGISTRY = Table(
    name="registry",
    columns="""
        model_name VARCHAR NOT NULL, revision VARCHAR NOT NULL, dataset VARCHAR NOT NULL,
        condition VARCHAR NOT NULL, base_model VARCHAR NOT NULL, seed INTEGER NOT NULL,
        trace_set_version VARCHAR NOT NULL, backend VARCHAR NOT NULL, uri VARCHAR NOT NULL,
        status VARCHAR NOT NULL, hyperparameters VARCHAR NOT NULL, train_summary VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL, student VARCHAR, local_revision VARCHAR, config_fingerprint VARCHAR,
        error VARCHAR, metrics VARCHAR, registered_at TIMESTAMP, content_digest VARCHAR
    """,
    comment="every student checkpoint: lineage, status, where it is, its digest, metrics (asset student)",
    column_comments={
        "model_name": "the student's registry name: tracekd-<dataset>-<condition>-<student>-<base model>-seed<N>",
        "revision": "the revision's id: local <UTC time>-<digest prefix>, a Hub commit id, or ext-<hash> for published outputs",
        "backend": "where the revision lives: local, hub, or external (published outputs: no weights)",
        "uri": "where to find it: registry/<name>/<revision> relative to the home, the Hub repo, or the outputs' source",
        "status": "registered, pending (push to the Hub not done yet) or external (published outputs)",
        "hyperparameters": "JSON of the training settings",
        "train_summary": "JSON of how training went (steps, loss, tokens/s, resumed step, dropped_too_long, stopped_by_time_budget)",
        "created_at": "when the revision was made (UTC)",
        "student": "the student's name in the experiment file; NULL in rows older than student names",
        "local_revision": "the local registry revision the student was first saved as (equals revision for local)",
        "config_fingerprint": "hash (12 hex) of the settings that shape what is learned; NULL: published outputs",
        "error": "why the Hub push failed (token scrubbed); NULL: no failure",
        "metrics": "JSON of the run's metrics once evaluated; NULL: not evaluated yet",
        "registered_at": "when the revision was registered (UTC); NULL: still pending",
        "content_digest": "SHA-256 of the revision's file manifest, checked when it is loaded; published outputs: their files' hash",
    },
)

TABLES = (REGISTRY,)
