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

COLUMN_COMMENTS: dict[str, str] = {
    # --- shared: one meaning in every table (and SQL model) that has the column ---
    "dataset": "the dataset's name in TraceKD (e.g. babi, cotempqa, msmarco, synthetic)",
    "condition": "trace condition: solution_only, correct, incorrect, swapped, teacher, teacher_summary, posthoc; untuned_base: no tuning",
    "student": "the student's name in the experiment file; untuned: an untuned base model; published outputs: the name given on import",
    "base_model": "the pretrained model the student was tuned from (Hugging Face id; tiny-llama-from-config: a tiny model built from config)",
    "seed": "the student's training seed: one run per dataset, condition, student, base model and seed",
    "trace_set_version": "content hash of the training traces the student learned from; none: untuned base model; external: published outputs",
    "model_revision": "registry revision of the evaluated student (registry.revision); untuned: untuned base model; ext-...: published outputs",
    "eval_split": "the dataset split the student was evaluated on (test)",
    "scorer_version": "version of the dataset's answer scorer (published outputs add their format and scoring choices)",
    "dataset_source": "where the evaluated questions came from: a path, an hf: id or generated; published outputs: where the outputs came from",
    "dataset_hash": "content hash of the dataset's stored questions (dataset_versions.content_hash); published outputs: hash of their files",
    "split": "the dataset split the question belongs to: train or test",
    "example_id": "the question's id in its dataset, the same in every condition and run",
    "category": "the question's gold class: bAbI task, CoTempQA temporal relation or MS MARCO query type",
    "question": "the question's text (whitespace folded)",
    "prompt": "the model's input: the numbered facts, then the question (an untuned base model gets an instruction first)",
    "gold_class": "the gold classification step: the question's category",
    "gold_fact_ids": "ids of the question's gold supporting facts: the gold IR step",
    "gold_answers": "the question's gold answers (aliases allowed), as the dataset's answer rule scores against them",
    "style": "how the trace's steps are worded: sentences (the reference study's) or compact",
    "corrupted_rows": "traces with a corrupted class or fact step (condition incorrect; 0 for the others)",
    "parsed_class": "the class label read from the generation's trace; NULL: none written or readable",
    "parsed_fact_ids": "fact ids read from the generation's trace (negative: a stated fact that is none of the question's); NULL: no list",
    "parsed_answer": "the answer read from the generation; NULL: no answer found",
    "answer_accuracy": "share of the run's test questions answered right by the dataset's answer rule (0-1)",
    "answer_accuracy_ci_low": "lower bound of answer_accuracy's bootstrap 95% interval (percentile, 1,000 resamples of the questions)",
    "answer_accuracy_ci_high": "upper bound of answer_accuracy's bootstrap 95% interval (percentile, 1,000 resamples of the questions)",
    "class_accuracy": "share of questions whose class step is the gold class (0-1); NULL: the condition writes no steps",
    "ir_exact_accuracy": "share of questions whose IR step lists exactly the gold facts (0-1; published: by its facts rule); NULL: no steps",
    "ir_precision": "mean over questions of the share of listed fact ids that are gold (0-1); NULL: the condition writes no steps",
    "ir_recall": "mean over questions of the share of gold fact ids listed (0-1); NULL: the condition writes no steps",
    "ir_f1": "mean over questions of the IR step's F1 of precision and recall (0-1); NULL: the condition writes no steps",
    "trace_accuracy": "share of questions with both steps right, class and IR (0-1); NULL: the condition writes no steps",
    "trace_accuracy_ci_low": "lower bound of trace_accuracy's bootstrap 95% interval; NULL: no steps written",
    "trace_accuracy_ci_high": "upper bound of trace_accuracy's bootstrap 95% interval; NULL: no steps written",
    "trace_bleu": "corpus BLEU-4 (0-1) of the generated traces against the gold steps in the training style; NULL: no trace written",
    "mean_trace_words": "mean length in words of the traces the student generated; NULL: it wrote none",
    "n_trace_ok_answer_ok": "questions with the trace right and the answer right (2x2 cell); NULL: no steps written",
    "n_trace_ok_answer_wrong": "questions with the trace right and the answer wrong (2x2 cell); NULL: no steps written",
    "n_trace_wrong_answer_ok": "questions with the trace wrong and the answer right (2x2 cell); NULL: no steps written",
    "n_trace_wrong_answer_wrong": "questions with the trace wrong and the answer wrong (2x2 cell); NULL: no steps written",
    "chi2": "Pearson chi-square (1 df, no correction) of the trace x answer 2x2 table; NULL: a row or column of it is empty",
    "chi2_p": "p-value of chi2; NULL where chi2 is",
    "fisher_p": "two-sided p of Fisher's exact test on the trace x answer 2x2 table; NULL: no steps written",
    "phi": "phi coefficient (-1 to 1) of trace against answer correctness; NULL: a row or column of the 2x2 table is empty",
    "phi_ci_low": "lower bound of phi's bootstrap 95% interval; NULL: no steps written or phi undefined",
    "phi_ci_high": "upper bound of phi's bootstrap 95% interval; NULL: no steps written or phi undefined",
    "share_both_correct": "share of questions with the trace and the answer both right (0-1; the study's ~28%); NULL: no steps written",
    "p_answer_given_trace_correct": "answer accuracy on the questions whose trace was right; NULL: none was (or no steps written)",
    "p_answer_given_trace_wrong": "answer accuracy on the questions whose trace was wrong; NULL: none was (or no steps written)",
    "chance_accuracy": "accuracy of a uniform guess among each category's training answers; NULL: no train split stored",
    "majority_accuracy": "accuracy of always giving each category's most frequent training answer; NULL: no train split stored",
    "step": "the step the 2x2 table sets against the answer: class, ir, or trace (both steps right)",
    "n_step_ok_answer_ok": "questions with the step right and the answer right (a cell of the step x answer 2x2 table)",
    "n_step_ok_answer_wrong": "questions with the step right and the answer wrong (a cell of the step x answer 2x2 table)",
    "n_step_wrong_answer_ok": "questions with the step wrong and the answer right (a cell of the step x answer 2x2 table)",
    "n_step_wrong_answer_wrong": "questions with the step wrong and the answer wrong (a cell of the step x answer 2x2 table)",
    "file": "the published output file, as a path relative to the imported folder",
    "item_set_version": "content hash of the rating item set (the items people rate)",
    "item_id": "opaque id of a rating item (a hash, so the page never reveals the condition)",
    "participant_id": "rater id: Prolific PID, the URL's participant_id, lab-<hex> made by the page, sim-NNN (simulated) or as imported",
    "panel": "real (people) or simulated (TraceKD's synthetic raters, not people); never analysed together",
    "scale": "the Likert scale: interpretability or cognitive_load (each 1-5)",
    "interpretability": "the rater's answer to how interpretable the reasoning is: 1 not at all to 5 completely",
    "cognitive_load": "the rater's answer to how much effort following the reasoning took: 1 very little to 5 very much",
    # --- table-specific: what the column means in that one table ---
    "raw_examples.example_id": "the question's id in its dataset (stable: traces, predictions and ratings refer to it)",
    "raw_examples.facts": "the question's context facts in order, each with its id (stable within the question) and text",
    "raw_examples.answers": "gold answers: the first is canonical, the rest aliases (whitespace folded, never empty)",
    "raw_examples.source": "where the record came from: file and line, hf: id and row, or the generator and its seed",
    "raw_examples.extra": "JSON of loader details (e.g. bAbI task and story; CoTempQA triple_element and answer_items); {}: none",
    "traces.split": "the dataset split of the question (traces are built for training questions: train)",
    "traces.trace_set_version": "content hash of this trace set (its questions' prompts and completions)",
    "traces.completion": "what the student learns to write: the trace in <think></think> (if any), then <answer>gold</answer>",
    "traces.story_fact_ids": "ids of every fact the question's prompt shows",
    "traces.rendered_class": "the class label the trace states (may be corrupted or borrowed); NULL: the trace states no class",
    "traces.rendered_fact_ids": "the fact ids the trace states (may be corrupted or borrowed); NULL: the trace states no facts",
    "traces.rendered_answer": "the answer the completion ends with (always the gold answer)",
    "traces.class_corrupted": "whether the class label was deliberately made wrong (condition incorrect)",
    "traces.facts_corrupted": "whether the fact ids were deliberately made wrong (condition incorrect)",
    "traces.trace_source_id": "example_id of the question whose trace this is (another question's for swapped); NULL in older rows",
    "traces.teacher_answer": "the teacher's own answer for the teacher conditions; NULL for the others",
    "traces.construction": "JSON of how the trace was built: corruption rule, donor question, or teacher model and request hashes",
    "dataset_versions.source": "where the dataset was read from: a path, an hf: id, or generated",
    "dataset_versions.protocol": "which questions and split were used: reference (the study's subsets), full, or generated",
    "dataset_versions.content_hash": "hash (16 hex) of the stored questions in a fixed order: same questions read the same way, same hash",
    "dataset_versions.rows": "questions stored for the dataset (both splits)",
    "dataset_versions.left_out": "JSON: questions the loader's screening left out, by reason; NULL or {}: none",
    "dataset_versions.notes": "JSON: what the loader noted on questions it kept (e.g. an empty answer list), by note",
    "dataset_versions.loaded_at": "when the dataset partition was stored (UTC)",
    "trace_sets.trace_set_version": "content hash of this trace set (its questions' prompts and completions)",
    "trace_sets.rows": "traces in the set (training questions the condition could use)",
    "trace_sets.questions": "training questions the set was built from (rows plus those left out)",
    "trace_sets.left_out": "JSON: questions the condition could not use, by reason (no gold fact, teacher wrong, ...)",
    "trace_sets.settings": "JSON of the settings that shaped the set: seed, style, and the corruption rule for incorrect",
    "trace_sets.teacher": "JSON: how the teacher did (model, answered, failed, correct, kept, kept_rate); NULL: no teacher condition",
    "trace_sets.mean_trace_words": "mean length in words of the set's traces (the <think> part); NULL: no traces",
    "trace_sets.created_at": "when the trace set was stored (UTC)",
    "reference_results.base_model": "the base model of the reference study's student (Hugging Face id)",
    "reference_results.metric": "the published measure, named as TraceKD's metrics column (answer_accuracy)",
    "reference_results.value": "the published value, as a share (0-1)",
    "reference_results.source": "citation: the paper, table and version the number was entered from",
    "reference_ratings.condition": "trace condition whose traces the study's participants rated",
    "reference_ratings.mean": "the published mean rating on the scale (1-5)",
    "reference_ratings.source": "citation: the paper and version of the human study the mean was entered from",
    "teacher_requests.request_hash": "SHA-256 of (model, messages, sampling parameters, prompt version): the cache key",
    "teacher_requests.purpose": "what was asked: answer, summary (of the reasoning) or posthoc (an explanation after being told it was right)",
    "teacher_requests.model": "the model the request was sent to",
    "teacher_requests.endpoint": "public URL (no credentials) of the endpoint that answered or last failed; NULL: not recorded",
    "teacher_requests.request": "JSON of the request as sent: model, messages and sampling parameters (never a key)",
    "teacher_requests.status": "ok (answered) or failed (asked again by the next materialization)",
    "teacher_requests.content": "the reply's text (secrets scrubbed); NULL: failed, or the reply had only reasoning",
    "teacher_requests.reasoning": "the reply's separate reasoning (reasoning_content); NULL: failed or none sent",
    "teacher_requests.error": "why the request failed, after its retries (secrets scrubbed); NULL: ok",
    "teacher_requests.attempts": "tries made, retries included",
    "teacher_requests.latency_s": "seconds from the first try to the reply or the final failure, retries and waits included",
    "teacher_requests.prompt_tokens": "prompt tokens the server reported; NULL: failed or not reported",
    "teacher_requests.completion_tokens": "completion tokens the server reported; NULL: failed or not reported",
    "teacher_requests.updated_at": "when the row was last written (UTC)",
    "registry.model_name": "the student's registry name: tracekd-<dataset>-<condition>-<student>-<base model>-seed<N>",
    "registry.revision": "the revision's id: local <UTC time>-<digest prefix>, a Hub commit id, or ext-<hash> for published outputs",
    "registry.backend": "where the revision lives: local, hub, or external (published outputs: no weights)",
    "registry.uri": "where to find it: registry/<name>/<revision> relative to the home, the Hub repo, or the outputs' source",
    "registry.status": "registered, pending (push to the Hub not done yet) or external (published outputs)",
    "registry.hyperparameters": "JSON of the training settings",
    "registry.train_summary": "JSON of how training went (steps, loss, tokens/s, resumed step, dropped_too_long, stopped_by_time_budget)",
    "registry.created_at": "when the revision was made (UTC)",
    "registry.student": "the student's name in the experiment file; NULL in rows older than student names",
    "registry.local_revision": "the local registry revision the student was first saved as (equals revision for local)",
    "registry.config_fingerprint": "hash (12 hex) of the settings that shape what is learned; NULL: published outputs",
    "registry.error": "why the Hub push failed (token scrubbed); NULL: no failure",
    "registry.metrics": "JSON of the run's metrics once evaluated; NULL: not evaluated yet",
    "registry.registered_at": "when the revision was registered (UTC); NULL: still pending",
    "registry.content_digest": "SHA-256 of the revision's file manifest, checked when it is loaded; published outputs: their files' hash",
    "predictions.output": "the student's generation, as generated (published outputs: as published)",
    "predictions.class_correct": "whether the class step is the gold class; NULL: the condition writes no steps",
    "predictions.ir_exact": "whether the IR step lists exactly the gold facts (published: by its facts rule); NULL: no steps written",
    "predictions.ir_precision": "share of the listed fact ids that are gold (0-1; 0 when none listed); NULL: no steps written",
    "predictions.ir_recall": "share of the gold fact ids listed (0-1); NULL: the condition writes no steps",
    "predictions.trace_correct": "whether both steps are right (class and IR); NULL: the condition writes no steps",
    "predictions.answer_correct": "whether the answer is right by the dataset's answer rule (published outputs: by the chosen scoring)",
    "metrics.n": "test questions scored in the run",
    "metrics.created_at": "when the run's metrics were computed (UTC)",
    "contingency.n": "test questions in the 2x2 table (those whose step was scored)",
    "contingency.chi2": "Pearson chi-square (1 df, no correction) of the step x answer 2x2 table; NULL: a row or column of it is empty",
    "contingency.chi2_p": "p-value of chi2; NULL where chi2 is",
    "contingency.fisher_p": "two-sided p of Fisher's exact test on the step x answer 2x2 table",
    "contingency.small_cells": "whether an expected cell count is below 5 (then read fisher_p, not chi2_p)",
    "contingency.phi": "phi coefficient (-1 to 1) of step against answer correctness; NULL: a row or column is empty",
    "contingency.p_answer_given_step_correct": "answer accuracy on the questions whose step was right; NULL: none was",
    "contingency.p_answer_given_step_wrong": "answer accuracy on the questions whose step was wrong; NULL: none was",
    "contingency.share_both_correct": "share of questions with the step and the answer both right (0-1)",
    "external_files.layout": "how the outputs are laid out: trace-check-qa (the reference study's repository) or simple",
    "external_files.category": "the CoTempQA relation of the file's folder; (per line): each line names its own",
    "external_files.content_hash": "SHA-256 of the file's bytes",
    "external_files.source_name": "where the outputs came from, as given (credentials removed), or git:<repo>@<commit>, or the folder",
    "external_files.lines": "lines in the file (scored plus left out)",
    "external_files.scored": "lines scored (stored in predictions)",
    "external_files.left_out": "lines left out (unreadable, or a repeat of an earlier question); the reason is in external_lines",
    "external_files.cut_short": "scored lines whose generation did not close its answer (or its trace)",
    "external_files.reported": "JSON of the study's own summary of the file (acc, f1, p, r, avg; percent); NULL: no summary found",
    "external_files.recomputed_official": "JSON: TraceKD's re-run of that summary (CoTempQA's official metric, percent); NULL: not CoTempQA",
    "external_files.imported_at": "when the file was imported (UTC)",
    "external_lines.line": "1-based line (or record) number in the file",
    "external_lines.example_id": "the question's id: the loaded dataset's where the line matches one, else made from its text; NULL: unread",
    "external_lines.category": "the question's gold class (CoTempQA relation); NULL: the line could not be read",
    "external_lines.status": "scored, or left out (see reason)",
    "external_lines.reason": "why the line was left out (unreadable field, or the same question as an earlier line); NULL: scored",
    "external_lines.dataset_check": "the line against the loaded dataset: matched (split), answers/gold facts differ, not in it, not loaded",
    "external_lines.raw": "the line as read, kept for lines left out; NULL: scored (the generation is in predictions)",
    "external_lines.trace_state": "the generation's trace: closed, unclosed (opened, never closed) or missing",
    "external_lines.answer_state": "the generation's answer: closed, unclosed (opened, never closed) or missing",
    "external_lines.facts_form": "how the trace lists its facts: list, text (bare sentences), unreadable or missing",
    "external_lines.cut_short": "whether the generation did not close its answer (or its trace); NULL: left out",
    "external_lines.class_ok": "whether the class step is the gold relation; NULL: no steps to score (or left out)",
    "external_lines.ir_exact": "whether the listed facts are exactly the gold facts; NULL: no steps to score",
    "external_lines.ir_contains": "whether every gold fact is listed (extras allowed); NULL: no steps to score",
    "external_lines.ir_subset": "whether at least one fact is listed and every listed fact is gold; NULL: no steps to score",
    "external_lines.ir_any": "whether at least one gold fact is listed; NULL: no steps to score",
    "external_lines.answer_em": "whether the closed answer is right by the dataset's exact-match rule; NULL: left out",
    "external_lines.answer_em_lenient": "the same, reading an unclosed answer too (cut_short=lenient); NULL: left out",
    "external_lines.answer_f1": "token F1 (0-1) of the closed answer against the gold answers; NULL: left out",
    "external_lines.answer_f1_lenient": "token F1 (0-1), reading an unclosed answer too; NULL: left out",
    "external_lines.answer_official": "whether CoTempQA's official entity-set match calls it right; NULL: not CoTempQA with a triple_element",
    "external_lines.official_f1": "CoTempQA's official F1 (0-1) of the generation; NULL: not CoTempQA with a triple_element",
    "external_lines.authors_evaluated": "whether the study's script scores the line (it skips lines without a trace); NULL: not its layout",
    "external_lines.authors_class_ok": "the class step by the study's rule (relation named before the trace's first full stop); NULL: n/a",
    "external_lines.authors_ir_ok": "the IR step by the study's rule (any looked-up fact occurs verbatim in the trace); NULL: n/a",
    "external_lines.authors_own_row": "whether the study's row lookup found this line's own question; NULL: the lookup was not re-run",
    "reference_contingency.base_model": "the base model of the reference study's student (Hugging Face id)",
    "reference_contingency.categories": "the CoTempQA relations the published counts pool, comma-separated",
    "reference_contingency.source": "citation: the paper, repository and commit the counts were entered from",
    "rating_item_sets.dataset": "the dataset whose trace sets the items were sampled from",
    "rating_item_sets.conditions": "the trace conditions rated (those that write a trace; solution_only has none)",
    "rating_item_sets.trace_set_versions": "JSON: condition -> version of the trace set its items come from",
    "rating_item_sets.seed": "the seed the items were sampled with",
    "rating_item_sets.per_condition": "items sampled per condition (the same questions in each, when paired)",
    "rating_item_sets.attention_checks": "attention-check items in the set",
    "rating_item_sets.paired": "whether every condition shows the same questions (differences then come from the traces)",
    "rating_item_sets.items": "items in the set, attention checks included",
    "rating_item_sets.created_at": "when the item set was stored (UTC)",
    "rating_items.condition": "trace condition of the item's trace; attention_check for an attention-check item",
    "rating_items.trace_set_version": "version of the trace set the item's trace comes from",
    "rating_items.example_id": "the training question the item shows",
    "rating_items.facts": "the question's numbered facts, as the page shows them",
    "rating_items.question": "the question, as the page shows it",
    "rating_items.trace": "the trace raters see: the condition's training completion, unchanged; an attention check: its instruction",
    "rating_items.answer": "the answer shown after the trace (the gold answer)",
    "rating_items.trace_words": "length in words of the trace's reasoning (its <think> part; an attention check: its instruction)",
    "rating_items.trace_corrupted": "whether a step the trace states differs from the question's gold step (incorrect, swapped)",
    "rating_items.attention_check": "whether the item is an attention check rather than a trace",
    "rating_items.expected_interpretability": "the interpretability an attention check asks for; NULL: not an attention check",
    "rating_items.expected_cognitive_load": "the cognitive load an attention check asks for; NULL: not an attention check",
    "rating_sessions.platform": "how the participant arrived: prolific, url (?participant_id=) or lab (no parameters)",
    "rating_sessions.study_id": "Prolific STUDY_ID from the study link; NULL: not given",
    "rating_sessions.session_id": "Prolific SESSION_ID from the study link; NULL: not given",
    "rating_sessions.token_sha256": "SHA-256 of the browser's session token (the token itself is never stored)",
    "rating_sessions.item_order": "item ids in the order this participant is shown them",
    "rating_sessions.counterbalance_row": "which balanced Latin square row ordered the conditions (sessions take rows in turn)",
    "rating_sessions.started_at": "when the session started (UTC)",
    "rating_sessions.completed_at": "when the last item was rated (UTC); NULL: not finished",
    "ratings.source": "which rating source: rating page, import:<name or format:hash>, or the simulated panel",
    "ratings.dataset": "the dataset of the rated item",
    "ratings.condition": "trace condition of the rated item; attention_check for an attention-check item",
    "ratings.trace_set_version": "version of the trace set the rated trace comes from",
    "ratings.comment": "the rater's optional comment (at most 2,000 characters); NULL: none",
    "ratings.submitted_at": "when the rating was submitted or imported (UTC)",
    "rating_summary.trace_set_version": "version of the trace set the rated traces come from",
    "rating_summary.n_ratings": "ratings on the scale of this condition's items, excluded participants left out",
    "rating_summary.n_participants": "participants who rated this condition (excluded ones left out)",
    "rating_summary.mean": "mean rating on the scale (1-5)",
    "rating_summary.sd": "sample sd of the ratings; NULL: fewer than 2",
    "rating_summary.ci_low": "lower bound of the 95% t interval over participants' means; NULL: fewer than 2 participants",
    "rating_summary.ci_high": "upper bound of the 95% t interval over participants' means; NULL: fewer than 2 participants",
    "rating_tests.test": "krippendorff_alpha_ordinal (agreement), friedman (all conditions) or wilcoxon (a pair, signed-rank)",
    "rating_tests.groups": "the conditions the test compares, comma-separated",
    "rating_tests.n": "participants (raters for alpha) the test used",
    "rating_tests.statistic": "Krippendorff's alpha, Friedman's chi-square or Wilcoxon's W; NULL: undefined (see note)",
    "rating_tests.p": "p-value; NULL for alpha, or where the test is undefined (see note)",
    "rating_tests.p_holm": "Holm-corrected p over the pairwise Wilcoxon tests; NULL for the others",
    "rating_tests.note": "what the test ran on, or why it could not run",
    "rating_participants.rated": "items rated, attention checks not counted",
    "rating_participants.attention_checks": "attention-check items the participant answered",
    "rating_participants.attention_failed": "attention checks answered otherwise than asked",
    "rating_participants.excluded": "whether the participant is left out of every statistic (failed an attention check)",
}
"""One line per stored column, kept as a DuckDB column comment (`tracekd query --describe TABLE`,
any DuckDB client: `SELECT comment FROM duckdb_columns()`). A plain key is the column's meaning
in every table that has it, and in any SQL model column of that name that does not declare its
own; a `table.column` key is what it means in that one table. Read them with `column_comment`."""


def column_comment(table: str, column: str) -> str:
    """The column's one-line meaning: the table's own where it has one, else the shared one, else
    "" (only a SQL model column can have none: its file must declare it)."""
    return COLUMN_COMMENTS.get(f"{table}.{column}") or COLUMN_COMMENTS.get(column, "")


@functools.cache
def _wanted_columns() -> dict[tuple[str, str], tuple[bool, str]]:
    """(table, column) -> (NOT NULL?, comment) of every stored column: what `ensure_tables`
    compares the catalog with."""
    return {(table, name): (not_null, column_comment(table, name))
            for table, columns in schema_columns().items() for name, _, not_null in columns}  # fmt: skip


def sql_string(text: str) -> str:
    """A SQL string literal, for statements that take no parameters (COMMENT ON)."""
    return "'" + text.replace("'", "''") + "'"


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create missing tables, add columns a newer TraceKD introduced to tables an older one created
    (nullable, so existing rows stay valid), drop a NOT NULL the schema no longer declares, and set
    the table and column comments that are missing or out of date: a project's DuckDB file survives
    upgrades, and any DuckDB client can read what each column means. One catalog query first
    (columns, nullability, comments): a file already up to date (nearly every write) is left at that
    (checking table by table was 13 of a short write's 34 ms; adding duckdb_tables() for the table
    comments would cost half as much again, so those are checked only when something else is due)."""
    present = con.execute(
        "SELECT table_name, column_name, is_nullable, comment FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = 'main'"
    ).fetchall()
    found = {(table, column): (is_nullable, comment) for table, column, is_nullable, comment in present}
    wanted = _wanted_columns()
    stale = [key for key, (not_null, text) in wanted.items()
             if key not in found or found[key][1] != text or not (not_null or found[key][0])]  # fmt: skip
    if not stale:
        return
    table_comments = dict(con.execute(
        "SELECT table_name, comment FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main'"
    ).fetchall())  # fmt: skip
    comments = []
    for table, columns in SCHEMA.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")
        have = {row[0]: bool(row[1]) for row in con.execute(f"SELECT name, \"notnull\" FROM pragma_table_info('{table}')").fetchall()}
        for name, type_, not_null in schema_columns()[table]:
            if name not in have:
                con.execute(f"ALTER TABLE {table} ADD COLUMN {name} {type_}")
            elif have[name] and not not_null:
                con.execute(f"ALTER TABLE {table} ALTER COLUMN {name} DROP NOT NULL")
        if table_comments.get(table) != TABLE_COMMENTS[table]:
            comments.append(f"COMMENT ON TABLE {table} IS {sql_string(TABLE_COMMENTS[table])}")
    comments += [f'COMMENT ON COLUMN {table}."{column}" IS {sql_string(wanted[table, column][1])}'
                 for table, column in stale if (table, column) not in found or found[table, column][1] != wanted[table, column][1]]  # fmt: skip
    if comments:
        con.execute(";\n".join(comments))  # one call: a new file takes ~350 of them


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
