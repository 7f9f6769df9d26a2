"""DuckDB storage: one file, short-lived connections, one writer at a time, atomic partitions.

DuckDB lets one process write a file at a time, and Dagster runs steps in separate processes.
Every connection here is opened for one unit of work under an OS file lock (shared for readers,
exclusive for writers) and closed at once, so concurrent steps queue instead of failing, and a
partition is replaced inside one transaction: readers see the old rows or the new, never a mix,
and a failed write leaves the old rows in place.
"""

from __future__ import annotations

import fcntl
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import duckdb
import pandas as pd

LINEAGE_COLUMNS = """
    dataset VARCHAR NOT NULL, condition VARCHAR NOT NULL, base_model VARCHAR NOT NULL,
    seed INTEGER NOT NULL, trace_set_version VARCHAR NOT NULL, model_revision VARCHAR NOT NULL,
    eval_split VARCHAR NOT NULL, scorer_version VARCHAR NOT NULL
"""

SCHEMA: dict[str, str] = {
    "raw_examples": """
        dataset VARCHAR NOT NULL, split VARCHAR NOT NULL, example_id VARCHAR NOT NULL,
        category VARCHAR NOT NULL, question VARCHAR NOT NULL,
        facts STRUCT(id INTEGER, text VARCHAR)[] NOT NULL, answers VARCHAR[] NOT NULL,
        gold_fact_ids INTEGER[] NOT NULL, source VARCHAR NOT NULL, extra VARCHAR
    """,
    "traces": """
        dataset VARCHAR NOT NULL, condition VARCHAR NOT NULL, split VARCHAR NOT NULL,
        example_id VARCHAR NOT NULL, prompt VARCHAR NOT NULL, completion VARCHAR NOT NULL,
        gold_class VARCHAR NOT NULL, gold_fact_ids INTEGER[] NOT NULL, gold_answers VARCHAR[] NOT NULL,
        story_fact_ids INTEGER[] NOT NULL, rendered_class VARCHAR, rendered_fact_ids INTEGER[],
        rendered_answer VARCHAR NOT NULL, class_corrupted BOOLEAN NOT NULL,
        facts_corrupted BOOLEAN NOT NULL, trace_set_version VARCHAR NOT NULL
    """,
    "registry": """
        model_name VARCHAR NOT NULL, revision VARCHAR NOT NULL, dataset VARCHAR NOT NULL,
        condition VARCHAR NOT NULL, base_model VARCHAR NOT NULL, seed INTEGER NOT NULL,
        trace_set_version VARCHAR NOT NULL, backend VARCHAR NOT NULL, uri VARCHAR NOT NULL,
        status VARCHAR NOT NULL, hyperparameters VARCHAR NOT NULL, train_summary VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL
    """,
    "predictions": LINEAGE_COLUMNS
    + """,
        example_id VARCHAR NOT NULL, category VARCHAR NOT NULL, prompt VARCHAR NOT NULL,
        output VARCHAR NOT NULL, parsed_class VARCHAR, parsed_fact_ids INTEGER[], parsed_answer VARCHAR,
        gold_class VARCHAR NOT NULL, gold_fact_ids INTEGER[] NOT NULL, gold_answers VARCHAR[] NOT NULL,
        class_correct BOOLEAN, ir_exact BOOLEAN, ir_precision DOUBLE, ir_recall DOUBLE,
        trace_correct BOOLEAN, answer_correct BOOLEAN NOT NULL
    """,
    "metrics": LINEAGE_COLUMNS
    + """,
        n INTEGER NOT NULL, answer_accuracy DOUBLE NOT NULL, class_accuracy DOUBLE,
        ir_exact_accuracy DOUBLE, ir_precision DOUBLE, ir_recall DOUBLE, trace_accuracy DOUBLE,
        n_trace_ok_answer_ok INTEGER, n_trace_ok_answer_wrong INTEGER,
        n_trace_wrong_answer_ok INTEGER, n_trace_wrong_answer_wrong INTEGER,
        chi2 DOUBLE, chi2_p DOUBLE, phi DOUBLE,
        p_answer_given_trace_correct DOUBLE, p_answer_given_trace_wrong DOUBLE,
        chance_accuracy DOUBLE NOT NULL, majority_accuracy DOUBLE NOT NULL,
        created_at TIMESTAMP NOT NULL
    """,
}


class Store:
    """The project's DuckDB file. Cheap to construct; holds no open connection."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock_path = self.path.with_name(self.path.name + ".lock")

    @contextmanager
    def connect(self, write: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for one unit of work. Writes run in one transaction: committed when the
        block ends normally, rolled back when it raises."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX if write or not self.path.exists() else fcntl.LOCK_SH)
            con = duckdb.connect(str(self.path), read_only=not write and self.path.exists())
            try:
                if write:
                    con.execute("BEGIN TRANSACTION")
                    try:
                        _ensure_schema(con)
                        yield con
                    except BaseException:
                        con.execute("ROLLBACK")
                        raise
                    con.execute("COMMIT")
                else:
                    yield con
            finally:
                con.close()

    def replace_partition(
        self, table: str, keys: Mapping[str, Any], rows: pd.DataFrame | Sequence[Mapping[str, Any]]
    ) -> int:
        """Atomically swap the rows of `table` matching `keys` for `rows`; returns the row count."""
        frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
        for column, value in keys.items():
            if len(frame) and not (frame[column] == value).all():
                raise ValueError(f"{table}: rows outside the partition {dict(keys)} (column {column})")
        where = " AND ".join(f"{column} = ?" for column in keys) or "TRUE"
        with self.connect(write=True) as con:
            con.execute(f"DELETE FROM {table} WHERE {where}", list(keys.values()))
            if len(frame):
                con.register("incoming", frame)
                con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming")
                con.unregister("incoming")
        return len(frame)

    def append(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        with self.connect(write=True) as con:
            con.register("incoming", pd.DataFrame(list(rows)))
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming")
            con.unregister("incoming")

    def frame(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        """Run a read query; an empty frame when the database has no tables yet."""
        if not self.path.exists():
            with self.connect(write=True):
                pass
        with self.connect() as con:
            return con.execute(sql, list(params)).df()

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run a read query; rows as dicts of plain Python values (lists stay lists)."""
        if not self.path.exists():
            with self.connect(write=True):
                pass
        with self.connect() as con:
            cursor = con.execute(sql, list(params))
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, values)) for values in cursor.fetchall()]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self.connect(write=True) as con:
            con.execute(sql, list(params))


def _ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    for table, columns in SCHEMA.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")
