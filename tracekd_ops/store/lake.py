"""The results store for many writers: DuckLake, with its catalog on Postgres and its data as
Parquet files on a path every worker shares (a volume or an object store).

The embedded default is one DuckDB file (`store.Store`); a cluster cannot share one, since DuckDB
lets one process write a file at a time. DuckLake keeps the same tables and SQL with the catalog in
Postgres, so the same `Store` interface, SQL models, report and `tracekd query` work on both.
Readers never wait: each connection reads a consistent snapshot. Writers take turns on a Postgres
advisory lock, as the file store's writers take turns on a file lock: TraceKD's writes are short
(the compute happens before them), and some read before they write (a rating counted once, a
counterbalancing row handed out once), which snapshot isolation alone would let two writers
interleave. The lock belongs to the writer's Postgres session, so a writer that is killed lets go
of it when its connection drops, and a later write never waits on a dead process.

The `ducklake` and `postgres` extensions come from the package index (`duckdb-ext-ducklake`,
`duckdb-ext-postgres`: the `cluster` extra), built for one DuckDB version, so nothing is
downloaded at run time.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import socket
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Iterator, Mapping

import duckdb

from tracekd_ops.core.secrets import redact
from tracekd_ops.core.tables import Catalog
from tracekd_ops.store.store import READ_ONLY_CONFIG, QueryRefused, Store, StoreBusy, unit_of_work

LAKE_PREFIX = "ducklake:postgres:"
"""How a store location names a DuckLake with a Postgres catalog: the prefix, then a libpq
connection string (`dbname=tracekd host=pg user=tracekd`), exactly as DuckLake's ATTACH takes it.
Leave the password out and set `PGPASSWORD` (libpq reads it), so it shows in no config."""
CATALOG_NAME = "tracekd"
WRITER_LOCK_KEY = 0x7472_6B64  # "trkd": the advisory lock every TraceKD writer of one catalog takes
REFUSED_FUNCTIONS = re.compile(r"^(postgres_|pg_|ducklake_|query$|query_table$)", re.IGNORECASE)
"""Functions a `tracekd query` may not call on a lake: the Postgres extension's reach other
servers or run SQL there, and `query()` would run a string the parser never saw."""


class LakeUnavailable(RuntimeError):
    """The DuckLake store cannot be opened here (extensions missing, or built for another DuckDB)."""


def extension_directory() -> Path:
    """The folder `duckdb-ext-ducklake`/`duckdb-ext-postgres` install the extensions into, laid
    out as DuckDB's extension directory is (`v<version>/<platform>/`); checked against the DuckDB
    that runs, since an extension loads only into the version it was built for."""
    spec = importlib.util.find_spec("duckdb_ext")
    install = "pip install 'tracekd[cluster]' (duckdb-ext-ducklake, duckdb-ext-postgres)"
    if spec is None or not spec.submodule_search_locations:
        raise LakeUnavailable(f"the DuckLake store needs the ducklake and postgres extensions: {install}")
    root = Path(list(spec.submodule_search_locations)[0]) / "extensions"
    wanted = root / f"v{duckdb.__version__}"
    missing = [name for name in ("ducklake", "postgres_scanner") if not list(wanted.glob(f"*/{name}.duckdb_extension"))]
    if missing:
        built = ", ".join(sorted(p.name for p in root.glob("v*"))) or "none"
        raise LakeUnavailable(
            f"the DuckLake store needs the {' and '.join(missing)} extension(s) for DuckDB {duckdb.__version__}; "
            f"the installed ones are built for: {built}. Install the DuckDB version they are built for, or {install}"
        )
    return root


PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)")
"""A password inside a libpq connection string (quoted or not): what is redacted and masked."""


def _password(conninfo: str) -> str | None:
    found = PASSWORD.search(conninfo)
    return found.group(2).strip("'") if found else None


LAKES_READY_IN_THIS_PROCESS: set[tuple[str, str]] = set()
"""(catalog, data path) of the lakes whose tables this process has already made sure of. Why per
process and not per `LakeStore`: `TraceKDHome.store()` builds a new store on every call (several
per step), and each first write used to spend a writer turn and ~20 catalog statements on it."""


class LakeStore(Store):
    """The results in DuckLake: catalog on Postgres (`conninfo`), Parquet under `data_path`."""

    def __init__(self, conninfo: str, data_path: str | Path, tables: Catalog, busy_timeout_s: float = 120.0) -> None:
        if not conninfo.strip():
            raise ValueError(f"a DuckLake store location needs a Postgres connection string after {LAKE_PREFIX!r}")
        self.conninfo = conninfo.strip()
        self.data_path = str(data_path).rstrip("/") + "/"
        self.tables = tables
        self.busy_timeout_s = busy_timeout_s
        self._secret = _password(self.conninfo) or os.environ.get("PGPASSWORD")
        self._extensions = extension_directory()  # fails here, before any work, when they cannot load

    @property
    def _tables_ready(self) -> bool:
        return (self.conninfo, self.data_path) in LAKES_READY_IN_THIS_PROCESS

    @property
    def location(self) -> str:
        shown = PASSWORD.sub(r"\1***", self.conninfo)
        return f"{LAKE_PREFIX}{shown} (data {self.data_path})"

    def exists(self) -> bool:
        """A lake is created on first use (catalog tables and TraceKD's tables)."""
        if not self._tables_ready:
            with self.connect(write=True):
                pass
        return True

    def _redacted(self, error: BaseException) -> str:
        return redact(str(error), self._secret)

    def _attach(self, read_only: bool, config: Mapping[str, Any] | None = None) -> duckdb.DuckDBPyConnection:
        settings = {"extension_directory": str(self._extensions), "autoinstall_known_extensions": False,
                    "autoload_known_extensions": False, **dict(config or {})}  # fmt: skip
        if self.data_path.startswith("/") or "://" not in self.data_path:
            Path(self.data_path).mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(config=settings)
        try:
            con.execute("LOAD ducklake; LOAD postgres")
            options = f"DATA_PATH '{_quoted(self.data_path)}'" + (", READ_ONLY" if read_only else "")
            con.execute(f"ATTACH '{_quoted(LAKE_PREFIX + self.conninfo)}' AS {CATALOG_NAME} ({options})")
            con.execute(f"USE {CATALOG_NAME}")
        except duckdb.Error as error:
            con.close()
            raise LakeUnavailable(f"cannot open the DuckLake store {self.location}: {self._redacted(error)}") from None
        return con

    @contextmanager
    def _writer_turn(self) -> Iterator[None]:
        """Hold the writers' advisory lock for one write; wait at most `busy_timeout_s`, then fail
        naming the host and process that hold it."""
        import psycopg2

        try:
            session = psycopg2.connect(self.conninfo, application_name=f"tracekd writer pid {os.getpid()} on {socket.gethostname()}")
        except psycopg2.Error as error:
            raise LakeUnavailable(f"cannot reach the DuckLake catalog {self.location}: {self._redacted(error)}") from None
        try:
            session.autocommit = True
            deadline = time.monotonic() + self.busy_timeout_s
            with session.cursor() as cursor:
                while True:
                    cursor.execute("SELECT pg_try_advisory_lock(%s)", [WRITER_LOCK_KEY])
                    if cursor.fetchone()[0]:
                        break
                    if time.monotonic() > deadline:
                        cursor.execute(
                            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                            "WHERE l.locktype = 'advisory' AND l.objid = %s AND l.granted", [WRITER_LOCK_KEY],
                        )  # fmt: skip
                        holders = ", ".join(row[0] or "unnamed" for row in cursor.fetchall()) or "unknown"
                        raise StoreBusy(
                            f"{self.location}: the writers' turn is held by {holders} for over {self.busy_timeout_s:g} s "
                            "(a stuck writer?); the waiting write gave up and changed nothing"
                        )
                    time.sleep(0.05)
            yield
        finally:
            session.close()  # ends the session, and with it the lock

    @contextmanager
    def connect(self, write: bool = False, config: Mapping[str, Any] | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        if not write and not self._tables_ready:
            self.exists()
        with self._writer_turn() if write else nullcontext():
            con = self._attach(read_only=not write, config=config)
            with unit_of_work(con, write, self.tables if write and not self._tables_ready else None) as con:
                yield con
            LAKES_READY_IN_THIS_PROCESS.add((self.conninfo, self.data_path))

    def _check_query(self, statement: Any) -> None:
        from sqlglot import exp

        for function in statement.find_all(exp.Func):
            name = function.name if isinstance(function, exp.Anonymous) else function.sql_name()
            if REFUSED_FUNCTIONS.match(name or ""):
                raise QueryRefused(f"{name}() is not allowed in a query of the results: it reaches past them")

    def _query_scratch(self) -> Any:
        return contextlib.nullcontext(None)

    @contextmanager
    def _read_only_connection(self, scratch: str | None) -> Iterator[duckdb.DuckDBPyConnection]:
        """Read the lake and nothing else: after the attach, files outside the data path, other
        databases and every setting are closed off (as `READ_ONLY_CONFIG` does for a file). The
        lake's own snapshot isolation lets writers go on meanwhile: no copy, no scratch folder."""
        with self.connect() as con:
            con.execute("SET allowed_directories = ?", [[self.data_path]])
            for name, value in READ_ONLY_CONFIG.items():
                con.execute(f"SET {name} = {str(value).lower() if isinstance(value, bool) else repr(value)}")
            yield con

    def snapshot(self, target: Path | str) -> Path:
        """A DuckDB file with every table as of one lake snapshot, for tools that want a file."""
        target = Path(target)
        staged = target.with_name(target.name + ".tmp")
        staged.unlink(missing_ok=True)
        with self.connect() as con:
            con.execute(f"ATTACH '{_quoted(str(staged))}' AS snapshot_copy")
            con.execute(f"COPY FROM DATABASE {CATALOG_NAME} TO snapshot_copy")
            con.execute("DETACH snapshot_copy")
        staged.replace(target)
        return target


def _quoted(text: str) -> str:
    return text.replace("'", "''")
