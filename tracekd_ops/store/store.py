"""DuckDB storage: one file, short-lived connections, one writer at a time, atomic partitions.

DuckDB lets one process write a file at a time, and Dagster runs steps in separate processes.
Every connection here is opened for one unit of work under an OS file lock (shared for readers,
exclusive for writers) and closed at once, so concurrent steps queue instead of failing, and a
partition is replaced inside one transaction: readers see the old rows or the new, never a mix,
and a failed write leaves the old rows in place.
"""

from __future__ import annotations

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

from tracekd_ops.core.tables import Catalog

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
    """The project's DuckDB file. Cheap to construct; holds no open connection. `tables` is every
    table it holds (`steps.catalog.CATALOG`), created and brought up to date by each write."""

    def __init__(self, path: Path | str, tables: Catalog, busy_timeout_s: float = 120.0) -> None:
        self.path = Path(path)
        self.tables = tables
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
            with unit_of_work(con, write, self.tables) as con:
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
def unit_of_work(con: duckdb.DuckDBPyConnection, write: bool, tables: Catalog | None) -> Iterator[duckdb.DuckDBPyConnection]:
    """Run one block on `con` and close it: a write in one transaction (committed when the block
    ends normally, rolled back when it raises), with the schema of `tables` (None: none to check)
    brought up to date first."""
    try:
        if write:
            con.execute("BEGIN TRANSACTION")
            try:
                if tables is not None:
                    ensure_tables(con, tables)
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        else:
            yield con
    finally:
        con.close()


@functools.cache
def _wanted_columns(tables: Catalog) -> dict[tuple[str, str], tuple[bool, str]]:
    """(table, column) -> (NOT NULL?, comment) of every stored column: what `ensure_tables`
    compares the database's catalog with."""
    return {(table, name): (not_null, tables.column_comment(table, name))
            for table, columns in schema_columns(tables).items() for name, _, not_null in columns}  # fmt: skip


def sql_string(text: str) -> str:
    """A SQL string literal, for statements that take no parameters (COMMENT ON)."""
    return "'" + text.replace("'", "''") + "'"


def ensure_tables(con: duckdb.DuckDBPyConnection, tables: Catalog) -> None:
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
    wanted = _wanted_columns(tables)
    stale = [key for key, (not_null, text) in wanted.items()
             if key not in found or found[key][1] != text or not (not_null or found[key][0])]  # fmt: skip
    if not stale:
        return
    table_comments = dict(con.execute(
        "SELECT table_name, comment FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main'"
    ).fetchall())  # fmt: skip
    comments = []
    for table in tables.tables:
        con.execute(f"CREATE TABLE IF NOT EXISTS {table.name} ({table.columns})")
        have = {row[0]: bool(row[1]) for row in con.execute(f"SELECT name, \"notnull\" FROM pragma_table_info('{table.name}')").fetchall()}
        for name, type_, not_null in schema_columns(tables)[table.name]:
            if name not in have:
                con.execute(f"ALTER TABLE {table.name} ADD COLUMN {name} {type_}")
            elif have[name] and not not_null:
                con.execute(f"ALTER TABLE {table.name} ALTER COLUMN {name} DROP NOT NULL")
        if table_comments.get(table.name) != table.comment:
            comments.append(f"COMMENT ON TABLE {table.name} IS {sql_string(table.comment)}")
    comments += [f'COMMENT ON COLUMN {table}."{column}" IS {sql_string(wanted[table, column][1])}'
                 for table, column in stale if (table, column) not in found or found[table, column][1] != wanted[table, column][1]]  # fmt: skip
    if comments:
        con.execute(";\n".join(comments))  # one call: a new file takes ~350 of them


@functools.cache
def schema_columns(tables: Catalog) -> dict[str, list[tuple[str, str, bool]]]:
    """(name, type, not null) of every column the catalog declares, as DuckDB itself parses the declarations."""
    with duckdb.connect(":memory:") as con:
        columns = {}
        for table in tables.tables:
            con.execute(f"CREATE TABLE {table.name} ({table.columns})")
            rows = con.execute(f"SELECT name, type, \"notnull\" FROM pragma_table_info('{table.name}')").fetchall()
            columns[table.name] = [(name, type_, bool(not_null)) for name, type_, not_null in rows]
        return columns
