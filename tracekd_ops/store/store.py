"""DuckDB storage: one file, short-lived connections, one writer at a time, atomic partitions.

DuckDB lets one process write a file at a time, and Dagster runs steps in separate processes.
Every connection here is opened for one unit of work under an OS file lock (shared for readers,
exclusive for writers) and closed at once, so concurrent steps queue instead of failing, and a
partition is replaced inside one transaction: readers see the old rows or the new, never a mix,
and a failed write leaves the old rows in place.
"""

from __future__ import annotations

import dataclasses
import fcntl
import functools
import os
import re
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import duckdb
import pandas as pd

from tracekd_ops.core.lineage import Lineage

LINEAGE_COLUMNS = ", ".join(
    f"{f.name} {'INTEGER' if f.name == 'seed' else 'VARCHAR'} NOT NULL" for f in dataclasses.fields(Lineage)
)
"""Every result table starts with the lineage keys (`core.lineage.Lineage`)."""

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
        facts_corrupted BOOLEAN NOT NULL, trace_set_version VARCHAR NOT NULL,
        style VARCHAR, trace_source_id VARCHAR, teacher_answer VARCHAR, construction VARCHAR
    """,
    "dataset_versions": """
        dataset VARCHAR NOT NULL, source VARCHAR NOT NULL, protocol VARCHAR NOT NULL, content_hash VARCHAR NOT NULL,
        rows INTEGER NOT NULL, left_out VARCHAR, notes VARCHAR, loaded_at TIMESTAMP NOT NULL
    """,
    "trace_sets": """
        dataset VARCHAR NOT NULL, condition VARCHAR NOT NULL, trace_set_version VARCHAR NOT NULL,
        style VARCHAR NOT NULL, rows INTEGER NOT NULL, questions INTEGER NOT NULL,
        left_out VARCHAR NOT NULL, corrupted_rows INTEGER NOT NULL, settings VARCHAR NOT NULL,
        teacher VARCHAR, mean_trace_words DOUBLE, created_at TIMESTAMP NOT NULL
    """,
    "reference_results": """
        dataset VARCHAR NOT NULL, condition VARCHAR NOT NULL, base_model VARCHAR NOT NULL,
        metric VARCHAR NOT NULL, value DOUBLE NOT NULL, source VARCHAR NOT NULL
    """,
    "reference_ratings": """
        condition VARCHAR NOT NULL, scale VARCHAR NOT NULL, mean DOUBLE NOT NULL, source VARCHAR NOT NULL
    """,
    "teacher_requests": """
        request_hash VARCHAR NOT NULL, purpose VARCHAR NOT NULL, model VARCHAR NOT NULL, endpoint VARCHAR,
        request VARCHAR NOT NULL, status VARCHAR NOT NULL, content VARCHAR, reasoning VARCHAR,
        error VARCHAR, attempts INTEGER NOT NULL, latency_s DOUBLE NOT NULL,
        prompt_tokens INTEGER, completion_tokens INTEGER, updated_at TIMESTAMP NOT NULL
    """,
    "registry": """
        model_name VARCHAR NOT NULL, revision VARCHAR NOT NULL, dataset VARCHAR NOT NULL,
        condition VARCHAR NOT NULL, base_model VARCHAR NOT NULL, seed INTEGER NOT NULL,
        trace_set_version VARCHAR NOT NULL, backend VARCHAR NOT NULL, uri VARCHAR NOT NULL,
        status VARCHAR NOT NULL, hyperparameters VARCHAR NOT NULL, train_summary VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL, student VARCHAR, local_revision VARCHAR, config_fingerprint VARCHAR,
        error VARCHAR, metrics VARCHAR, registered_at TIMESTAMP, content_digest VARCHAR
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
        chance_accuracy DOUBLE, majority_accuracy DOUBLE,
        created_at TIMESTAMP NOT NULL, answer_accuracy_ci_low DOUBLE, answer_accuracy_ci_high DOUBLE,
        ir_f1 DOUBLE, trace_accuracy_ci_low DOUBLE, trace_accuracy_ci_high DOUBLE, trace_bleu DOUBLE,
        mean_trace_words DOUBLE, fisher_p DOUBLE, phi_ci_low DOUBLE, phi_ci_high DOUBLE, share_both_correct DOUBLE
    """,
    "contingency": LINEAGE_COLUMNS
    + """,
        step VARCHAR NOT NULL, n INTEGER NOT NULL,
        n_step_ok_answer_ok INTEGER NOT NULL, n_step_ok_answer_wrong INTEGER NOT NULL,
        n_step_wrong_answer_ok INTEGER NOT NULL, n_step_wrong_answer_wrong INTEGER NOT NULL,
        chi2 DOUBLE, chi2_p DOUBLE, fisher_p DOUBLE, small_cells BOOLEAN NOT NULL, phi DOUBLE,
        p_answer_given_step_correct DOUBLE, p_answer_given_step_wrong DOUBLE, share_both_correct DOUBLE
    """,
    "external_files": LINEAGE_COLUMNS
    + """,
        file VARCHAR NOT NULL, layout VARCHAR NOT NULL, category VARCHAR NOT NULL, content_hash VARCHAR NOT NULL,
        source_name VARCHAR NOT NULL, lines INTEGER NOT NULL, scored INTEGER NOT NULL, left_out INTEGER NOT NULL,
        cut_short INTEGER NOT NULL, reported VARCHAR, recomputed_official VARCHAR, imported_at TIMESTAMP NOT NULL
    """,
    "external_lines": LINEAGE_COLUMNS
    + """,
        file VARCHAR NOT NULL, line INTEGER NOT NULL, example_id VARCHAR, category VARCHAR, status VARCHAR NOT NULL,
        reason VARCHAR, dataset_check VARCHAR, raw VARCHAR, trace_state VARCHAR, answer_state VARCHAR,
        facts_form VARCHAR, cut_short BOOLEAN, class_ok BOOLEAN, ir_exact BOOLEAN, ir_contains BOOLEAN, ir_subset BOOLEAN, ir_any BOOLEAN,
        answer_em BOOLEAN, answer_em_lenient BOOLEAN, answer_f1 DOUBLE, answer_f1_lenient DOUBLE,
        answer_official BOOLEAN, official_f1 DOUBLE, authors_evaluated BOOLEAN, authors_class_ok BOOLEAN,
        authors_ir_ok BOOLEAN, authors_own_row BOOLEAN
    """,
    "reference_contingency": """
        dataset VARCHAR NOT NULL, condition VARCHAR NOT NULL, base_model VARCHAR NOT NULL, step VARCHAR NOT NULL,
        n_step_ok_answer_ok INTEGER NOT NULL, n_step_ok_answer_wrong INTEGER NOT NULL,
        n_step_wrong_answer_ok INTEGER NOT NULL, n_step_wrong_answer_wrong INTEGER NOT NULL,
        categories VARCHAR NOT NULL, source VARCHAR NOT NULL
    """,
    "rating_item_sets": """
        item_set_version VARCHAR NOT NULL, dataset VARCHAR NOT NULL, conditions VARCHAR[] NOT NULL,
        trace_set_versions VARCHAR NOT NULL, seed INTEGER NOT NULL, per_condition INTEGER NOT NULL,
        attention_checks INTEGER NOT NULL, paired BOOLEAN NOT NULL, items INTEGER NOT NULL, created_at TIMESTAMP NOT NULL
    """,
    "rating_items": """
        item_set_version VARCHAR NOT NULL, item_id VARCHAR NOT NULL, dataset VARCHAR NOT NULL, condition VARCHAR NOT NULL,
        trace_set_version VARCHAR NOT NULL, example_id VARCHAR NOT NULL, facts VARCHAR NOT NULL, question VARCHAR NOT NULL,
        trace VARCHAR NOT NULL, answer VARCHAR NOT NULL, trace_words INTEGER NOT NULL, trace_corrupted BOOLEAN NOT NULL,
        attention_check BOOLEAN NOT NULL, expected_interpretability INTEGER, expected_cognitive_load INTEGER
    """,
    "rating_sessions": """
        item_set_version VARCHAR NOT NULL, participant_id VARCHAR NOT NULL, platform VARCHAR NOT NULL,
        study_id VARCHAR, session_id VARCHAR, token_sha256 VARCHAR NOT NULL, item_order VARCHAR[] NOT NULL,
        counterbalance_row INTEGER NOT NULL, started_at TIMESTAMP NOT NULL, completed_at TIMESTAMP
    """,
    "ratings": """
        item_set_version VARCHAR NOT NULL, item_id VARCHAR NOT NULL, participant_id VARCHAR NOT NULL,
        panel VARCHAR NOT NULL, source VARCHAR NOT NULL, dataset VARCHAR NOT NULL, condition VARCHAR NOT NULL,
        trace_set_version VARCHAR NOT NULL, interpretability INTEGER NOT NULL, cognitive_load INTEGER NOT NULL,
        comment VARCHAR, submitted_at TIMESTAMP NOT NULL
    """,
    "rating_summary": """
        item_set_version VARCHAR NOT NULL, panel VARCHAR NOT NULL, dataset VARCHAR NOT NULL, condition VARCHAR NOT NULL,
        trace_set_version VARCHAR NOT NULL, scale VARCHAR NOT NULL, n_ratings INTEGER NOT NULL,
        n_participants INTEGER NOT NULL, mean DOUBLE, sd DOUBLE, ci_low DOUBLE, ci_high DOUBLE
    """,
    "rating_tests": """
        item_set_version VARCHAR NOT NULL, panel VARCHAR NOT NULL, scale VARCHAR NOT NULL, test VARCHAR NOT NULL,
        groups VARCHAR NOT NULL, n INTEGER NOT NULL, statistic DOUBLE, p DOUBLE, p_holm DOUBLE, note VARCHAR
    """,
    "rating_participants": """
        item_set_version VARCHAR NOT NULL, panel VARCHAR NOT NULL, participant_id VARCHAR NOT NULL,
        rated INTEGER NOT NULL, attention_checks INTEGER NOT NULL, attention_failed INTEGER NOT NULL,
        excluded BOOLEAN NOT NULL
    """,
}


class StoreBusy(RuntimeError):
    """The DuckDB file stayed held past the timeout: by another process outside TraceKD's lock
    (e.g. an open `duckdb` CLI), or by a TraceKD process that kept its turn too long."""


class StoreUnreadable(RuntimeError):
    """The DuckDB file cannot be opened by the DuckDB version installed (written by a newer one)."""


class QueryRefused(ValueError):
    """A read-only query that is not one SELECT, or that failed or ran past its time limit."""


def lock_holders(path: Path) -> list[int]:
    """PIDs holding an OS lock on `path` (from /proc/locks; empty where that is unavailable)."""
    try:
        inode = path.stat().st_ino
        entries = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return []
    pids = []
    for entry in entries:
        fields = entry.split()
        if len(fields) > 5 and fields[5].rsplit(":", 1)[-1] == str(inode) and fields[4].isdigit():
            pids.append(int(fields[4]))
    return sorted(set(pids) - {os.getpid()})


QUERY_MEMORY_LIMIT = "2GB"
QUERY_THREADS = 2
READ_ONLY_CONFIG = {"memory_limit": QUERY_MEMORY_LIMIT, "threads": QUERY_THREADS, "enable_external_access": False, "lock_configuration": True}
"""A query connection may read the database and nothing else: no files, no other databases, no
extensions, no network, at most `QUERY_MEMORY_LIMIT` and `QUERY_THREADS`, and no setting can be
changed back (the lock comes last)."""
FILE_FUNCTIONS = re.compile(r"^(read_\w+|glob|sniff_csv|parquet_\w+|\w+_scan|query|query_table|iceberg_\w+|delta_\w+)$", re.IGNORECASE)
"""Table functions that read files or run SQL the parser never saw. DuckDB lets a connection read
its own database file even with external access off (`read_blob('<home>/tracekd.duckdb')` returned
its bytes), so these are refused by name before the query runs."""


class Store:
    """The project's DuckDB file. Cheap to construct; holds no open connection."""

    def __init__(self, path: Path | str, busy_timeout_s: float = 120.0) -> None:
        self.path = Path(path)
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self.busy_timeout_s = busy_timeout_s

    @property
    def location(self) -> str:
        """Where the results live, fit for messages (never a credential)."""
        return str(self.path)

    def exists(self) -> bool:
        """Whether anything was ever written here."""
        return self.path.exists()

    def _open(self, read_only: bool, config: Mapping[str, Any] | None = None) -> duckdb.DuckDBPyConnection:
        """Open the file, waiting while a process outside TraceKD's lock holds it (DuckDB's own
        file lock: an external reader blocks writers, an external writer blocks everyone)."""
        deadline = time.monotonic() + self.busy_timeout_s
        while True:
            try:
                return duckdb.connect(str(self.path), read_only=read_only, config=dict(config or {}))
            except duckdb.IOException as error:
                if "newer version of duckdb" in str(error).lower():
                    raise StoreUnreadable(
                        f"{self.path} was written by a newer DuckDB than the {duckdb.__version__} TraceKD runs on "
                        "(scripts/constraints.txt says why): move it aside and rematerialize, or copy its tables over "
                        "with that DuckDB's EXPORT DATABASE and this one's IMPORT DATABASE"
                    ) from None
                if "could not set lock" not in str(error).lower():
                    raise  # not another process's lock: a damaged file, a full disk ... fail now, as it is
                if time.monotonic() > deadline:
                    raise StoreBusy(
                        f"{self.path} is held by another process outside TraceKD (an open duckdb CLI or notebook?) "
                        f"for over {self.busy_timeout_s:g} s; close it, and query through `tracekd query`, "
                        f"`Store(...).frame()` or a `tracekd snapshot` copy instead: {error}"
                    ) from error
                time.sleep(0.1)

    def _take_turn(self, lock: Any, exclusive: bool) -> None:
        """Wait for TraceKD's file lock (exclusive to write, shared to read), at most
        `busy_timeout_s`; then fail naming the processes that hold it."""
        deadline = time.monotonic() + self.busy_timeout_s
        mode = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
        pause = 0.002  # a short turn (a rating's write) is waited out in milliseconds, a long one polled at 50 ms
        while True:
            try:
                fcntl.flock(lock, mode)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    holders = ", ".join(str(pid) for pid in lock_holders(self._lock_path)) or "unknown"
                    raise StoreBusy(
                        f"{self.path}: TraceKD's lock {self._lock_path} is held by process(es) {holders} for over "
                        f"{self.busy_timeout_s:g} s (a long query or a stuck writer?); the waiting "
                        f"{'write' if exclusive else 'read'} gave up and changed nothing"
                    ) from None
                time.sleep(pause)
                pause = min(pause * 2, 0.05)

    @contextmanager
    def connect(self, write: bool = False, config: Mapping[str, Any] | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for one unit of work. Writes run in one transaction: committed when the
        block ends normally, rolled back when it raises."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a+") as lock:
            self._take_turn(lock, exclusive=write or not self.path.exists())
            con = self._open(read_only=not write and self.path.exists(), config=config)
            with unit_of_work(con, write, ensure_schema=True) as con:
                yield con

    def replace_partition(
        self, table: str, keys: Mapping[str, Any], rows: pd.DataFrame | Sequence[Mapping[str, Any]]
    ) -> int:
        """Atomically swap the rows of `table` matching `keys` for `rows`; returns the row count."""
        return self.replace_partitions([(table, keys, rows)])[0]

    def replace_partitions(
        self, changes: Sequence[tuple[str, Mapping[str, Any], pd.DataFrame | Sequence[Mapping[str, Any]]]]
    ) -> list[int]:
        """Several `replace_partition`s in one transaction: all land or none (e.g. a trace set and
        its summary row)."""
        frames = []
        for table, keys, rows in changes:
            frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
            for column, value in keys.items():
                if len(frame) and not (frame[column] == value).all():
                    raise ValueError(f"{table}: rows outside the partition {dict(keys)} (column {column})")
            frames.append(frame)
        with self.connect(write=True) as con:
            for (table, keys, _), frame in zip(changes, frames):
                where = " AND ".join(f"{column} = ?" for column in keys) or "TRUE"
                con.execute(f"DELETE FROM {table} WHERE {where}", list(keys.values()))
                if len(frame):
                    con.register("incoming", frame)
                    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming")
                    con.unregister("incoming")
        return [len(frame) for frame in frames]

    def append(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        with self.connect(write=True) as con:
            con.register("incoming", pd.DataFrame(list(rows)))
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming")
            con.unregister("incoming")

    def _create_if_missing(self) -> None:
        if not self.exists():
            with self.connect(write=True):
                pass

    def frame(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        """Run a read query; an empty frame when the database has no tables yet."""
        self._create_if_missing()
        with self.connect() as con:
            return con.execute(sql, list(params)).df()

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run a read query; rows as dicts of plain Python values (lists stay lists)."""
        self._create_if_missing()
        with self.connect() as con:
            cursor = con.execute(sql, list(params))
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, values)) for values in cursor.fetchall()]

    def query(self, sql: str, timeout_s: float = 60.0) -> pd.DataFrame:
        """One read-only SELECT for people and tools outside TraceKD (`tracekd query`): parsed to
        be exactly one SELECT reading no file (`refuse_files`), run in a worker process on a
        connection that can touch nothing but this database (`READ_ONLY_CONFIG`), and stopped with
        its worker after `timeout_s` (`bounded`). A `QueryRefused` says what was wrong in one line,
        in DuckDB's own words where it is DuckDB's."""
        import sqlglot
        from sqlglot import exp

        try:
            statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
        except RecursionError:
            raise QueryRefused("not valid SQL here: nested too deeply to read") from None
        except sqlglot.errors.SqlglotError as error:
            raise QueryRefused(f"not valid SQL: {str(error).splitlines()[0]}") from None
        if len(statements) != 1 or not isinstance(statements[0], exp.Query):
            kinds = ", ".join(s.key.upper() for s in statements) or "nothing"
            raise QueryRefused(f"only one SELECT is allowed here (found {kinds}); the results are read-only")
        refuse_files(statements[0])
        self._check_query(statements[0])
        if not self.exists():
            raise QueryRefused(f"{self.location} does not exist yet: materialize something first")
        # made and removed here, not in the worker: a worker killed at the timeout cleans up nothing
        with self._query_scratch() as scratch:
            return bounded(functools.partial(self._run_query, scratch), sql, timeout_s)

    def _query_scratch(self) -> Any:
        """A folder for one query's snapshot, beside the database (not in /tmp, often memory)."""
        return tempfile.TemporaryDirectory(prefix=".query-", dir=self.path.parent)

    def _run_query(self, scratch: str | None, sql: str) -> pd.DataFrame:
        """The query on a read-only connection (in the worker process `bounded` starts), its columns
        in their DuckDB types (Arrow-backed: an integer column with a NULL stays integer)."""
        with self._read_only_connection(scratch) as con:
            return con.execute(sql).fetch_arrow_table().to_pandas(types_mapper=pd.ArrowDtype)

    def _check_query(self, statement: Any) -> None:
        """Refuse what this store's read-only connection cannot refuse by configuration."""

    @contextmanager
    def _read_only_connection(self, scratch: str | None) -> Iterator[duckdb.DuckDBPyConnection]:
        """A snapshot of the file in `scratch`, opened alone: the shared lock is held for the copy
        (a second for a GB), not for the query, so a writer never waits on a slow query (holding
        the lock for the whole query made every rating wait out a query's --timeout)."""
        copy = self.snapshot(Path(str(scratch)) / self.path.name)
        con = duckdb.connect(str(copy), read_only=True, config=dict(READ_ONLY_CONFIG))
        try:
            yield con
        finally:
            con.close()

    def snapshot(self, target: Path | str) -> Path:
        """A consistent copy of the database, taken under the shared lock (no TraceKD write is
        mid-transaction), that any tool may open and hold as long as it likes."""
        target = Path(target)
        if not self.path.exists():
            raise FileNotFoundError(f"{self.path} does not exist yet: materialize something first")
        staged = target.with_name(target.name + ".tmp")
        with open(self._lock_path, "a+") as lock:
            self._take_turn(lock, exclusive=False)
            shutil.copyfile(self.path, staged)
            wal = self.path.with_name(self.path.name + ".wal")
            if wal.exists():
                shutil.copyfile(wal, staged.with_name(staged.name + ".wal"))
        staged.replace(target)
        wal_copy = staged.with_name(staged.name + ".wal")
        if wal_copy.exists():
            wal_copy.replace(target.with_name(target.name + ".wal"))
        return target

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self.connect(write=True) as con:
            con.execute(sql, list(params))


def refuse_files(statement: Any) -> None:
    """No table function that reads files (`FILE_FUNCTIONS`), and no file path as a table."""
    from sqlglot import exp

    for function in statement.find_all(exp.Func):
        name = function.name if isinstance(function, exp.Anonymous) else function.sql_name()
        if FILE_FUNCTIONS.match(name or ""):
            raise QueryRefused(f"{name}() is not allowed in a query of the results: it reads files")
    for table in statement.find_all(exp.Table):
        if any(ch in table.name for ch in "/\\:.") and isinstance(table.this, exp.Identifier) and table.this.quoted:
            raise QueryRefused(f"{table.name!r} is a file, not a table of the results")


def _query_worker(run: Any, sql: str, out: Any) -> None:
    try:
        out.send(("ok", run(sql)))
    except duckdb.Error as error:
        out.send(("error", str(error).splitlines()[0] if str(error) else type(error).__name__))
    except MemoryError:
        out.send(("error", f"the query needs more than its {QUERY_MEMORY_LIMIT} of memory"))
    finally:
        out.close()


def bounded(run: Any, sql: str, timeout_s: float) -> pd.DataFrame:
    """`run(sql)` in a forked worker process, killed at `timeout_s`: DuckDB's interrupt does not
    stop a statement inside one long scalar function (a `levenshtein` of two 120 KB strings ran 45 s
    under a 2 s limit), but a killed process stops, and its shared lock goes with it, so a writer
    waits at most the timeout. The worker holds no connection of this process's."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    worker = context.Process(target=_query_worker, args=(run, sql, sender), daemon=True)
    worker.start()
    sender.close()
    try:
        if not receiver.poll(timeout_s):
            worker.kill()
            raise QueryRefused(f"the query ran past its {timeout_s:g} s limit and was stopped")
        try:
            status, value = receiver.recv()
        except EOFError:
            raise QueryRefused(f"the query's worker died (out of memory? each query may use {QUERY_MEMORY_LIMIT})") from None
    finally:
        worker.join(timeout=5)
        receiver.close()
    if status == "error":
        raise QueryRefused(value)
    return value


@contextmanager
def unit_of_work(con: duckdb.DuckDBPyConnection, write: bool, ensure_schema: bool) -> Iterator[duckdb.DuckDBPyConnection]:
    """Run one block on `con` and close it: a write in one transaction (committed when the block
    ends normally, rolled back when it raises), with the schema brought up to date first."""
    try:
        if write:
            con.execute("BEGIN TRANSACTION")
            try:
                if ensure_schema:
                    ensure_tables(con)
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        else:
            yield con
    finally:
        con.close()


TABLE_COMMENTS: dict[str, str] = {
    "raw_examples": "canonical QA records of each dataset, one per question (asset raw_examples)",
    "traces": "training traces, one per question and trace condition (asset traces)",
    "dataset_versions": "each stored dataset partition's source, protocol and content hash (asset raw_examples)",
    "trace_sets": "each trace set's version, condition, counts and construction notes (asset traces)",
    "reference_results": "the reference study's published numbers, entered from its tables (asset reference_results)",
    "reference_ratings": "the reference study's published human ratings (asset reference_results)",
    "teacher_requests": "every teacher request and its reply or error, secrets redacted (asset teacher_responses)",
    "registry": "every student checkpoint: lineage, status, where it is, its digest, metrics (asset student)",
    "predictions": "each student's generation for each test question, parsed and scored step by step (asset predictions)",
    "metrics": "per-run accuracy, trace accuracy, CIs and trace-answer association (asset metrics)",
    "contingency": "trace-correct x answer-correct counts per run (asset metrics)",
    "external_files": "imported published output files, with their sha256 (asset published_students)",
    "external_lines": "every line of an imported published file, and why one was left out (asset published_students)",
    "reference_contingency": "the reference study's contingency counts, where published (asset reference_results)",
    "rating_item_sets": "versions of the items people rate (asset rating_items)",
    "rating_items": "traces shown to raters, one per item (asset rating_items)",
    "rating_sessions": "one rating session per participant and item set (the rating page)",
    "ratings": "people's ratings of traces, real or simulated panel (the rating page, tracekd ratings import)",
    "rating_summary": "mean ratings and CIs per condition and panel (asset rating_analysis)",
    "rating_tests": "statistical tests between conditions' ratings (asset rating_analysis)",
    "rating_participants": "each participant's counts and whether they passed the attention checks (asset rating_analysis)",
}
"""One line per stored table, kept as a DuckDB comment: `tracekd query --tables` and any DuckDB
client show it (`SELECT table_name, comment FROM duckdb_tables()`)."""


def sql_string(text: str) -> str:
    """A SQL string literal, for statements that take no parameters (COMMENT ON)."""
    return "'" + text.replace("'", "''") + "'"


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create missing tables, add columns a newer TraceKD introduced to tables an older one created
    (nullable, so existing rows stay valid), and drop a NOT NULL the schema no longer declares: a
    project's DuckDB file survives upgrades. One catalog query first: a file already up to date
    (nearly every write) is left at that (checking table by table was 13 of a short write's 34 ms)."""
    present = con.execute(
        "SELECT table_name, column_name, is_nullable FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = 'main'"
    ).fetchall()
    nullable = {(table, column): is_nullable for table, column, is_nullable in present}
    if all((table, name) in nullable and (not_null or nullable[table, name])
           for table, columns in schema_columns().items() for name, _, not_null in columns):  # fmt: skip
        return
    commented = {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables() WHERE comment IS NOT NULL").fetchall()}
    for table, columns in SCHEMA.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")
        have = {row[0]: bool(row[1]) for row in con.execute(f"SELECT name, \"notnull\" FROM pragma_table_info('{table}')").fetchall()}
        for name, type_, not_null in schema_columns()[table]:
            if name not in have:
                con.execute(f"ALTER TABLE {table} ADD COLUMN {name} {type_}")
            elif have[name] and not not_null:
                con.execute(f"ALTER TABLE {table} ALTER COLUMN {name} DROP NOT NULL")
        if table not in commented:
            con.execute(f"COMMENT ON TABLE {table} IS {sql_string(TABLE_COMMENTS[table])}")


@functools.cache
def schema_columns() -> dict[str, list[tuple[str, str, bool]]]:
    """(name, type, not null) of every column SCHEMA declares, as DuckDB itself parses the declarations."""
    with duckdb.connect(":memory:") as con:
        columns = {}
        for table, declaration in SCHEMA.items():
            con.execute(f"CREATE TABLE {table} ({declaration})")
            rows = con.execute(f"SELECT name, type, \"notnull\" FROM pragma_table_info('{table}')").fetchall()
            columns[table] = [(name, type_, bool(not_null)) for name, type_, not_null in rows]
        return columns
