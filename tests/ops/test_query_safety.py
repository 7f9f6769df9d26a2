"""`tracekd query` is read-only for real: one SELECT, no file access, no other database, no
extension or network, no setting changed back, a time limit; every lock wait ends with a clear
error naming who holds the lock."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tracekd_ops.steps.catalog import CATALOG
from tracekd_ops.store.store import QueryRefused, Store, StoreBusy

TRACEKD = str(Path(sys.executable).parent / "tracekd")


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "home" / "tracekd.duckdb", busy_timeout_s=1.0, tables=CATALOG)
    store.execute("CREATE TABLE notes AS SELECT 1 AS n")
    return store


@pytest.mark.parametrize(
    "sql, says",
    [
        ("DROP TABLE notes", "only one SELECT"),
        ("DELETE FROM notes", "only one SELECT"),
        ("SELECT 1; DROP TABLE notes", "only one SELECT"),
        ("COPY notes TO '{tmp}/out.csv'", "only one SELECT"),
        ("ATTACH '{tmp}/other.duckdb' (READ_WRITE)", "only one SELECT"),
        ("INSTALL httpfs", "only one SELECT"),
        ("SET enable_external_access = true", "only one SELECT"),
        ("SELECT * FROM read_text('/etc/hostname')", "reads files"),
        ("SELECT * FROM read_csv('{tmp}/fifo')", "reads files"),
        ("SELECT * FROM 'https://example.com/x.csv'", "is a file, not a table"),
        ("SELECT * FROM (SELECT 1) WHERE 'a' IN (SELECT * FROM \"/etc/hostname\")", "is a file, not a table"),
        ("SELECT * FROM no_such_table", "no_such_table"),
    ],
)
def test_hostile_queries_are_refused_and_change_nothing(store, tmp_path, sql, says, faults):
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(QueryRefused, match=says):
        store.query(sql.format(tmp=tmp_path), timeout_s=5)
    assert store.query("SELECT n FROM notes").to_dict("records") == [{"n": 1}]
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "other.duckdb").exists()
    faults.held("sandbox")


def test_a_query_running_past_its_limit_is_stopped(store, faults):
    started = time.monotonic()
    with pytest.raises(QueryRefused, match="past its 1 s limit"):
        store.query("SELECT count(*) FROM range(100000000000) a, range(1000) b", timeout_s=1)
    assert time.monotonic() - started < 20
    faults.held("sandbox")


def test_a_lock_held_too_long_fails_the_waiting_writer_naming_the_holder(store):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'a+'); fcntl.flock(f, fcntl.LOCK_SH); "
         "print('held', flush=True); time.sleep(60)", str(store._lock_path)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreBusy, match=rf"process\(es\) {holder.pid}"):
            store.execute("INSERT INTO notes VALUES (2)")
    finally:
        holder.kill()
        holder.wait()
    assert store.query("SELECT count(*) AS k FROM notes").to_dict("records") == [{"k": 1}]


def test_the_cli_prints_the_duckdb_message_and_exits_non_zero(store):
    env = {**os.environ, "TRACEKD_HOME": str(store.path.parent)}
    bad = subprocess.run([TRACEKD, "query", "SELECT * FROM nope"], capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr and "nope" in bad.stderr
    good = subprocess.run([TRACEKD, "query", "SELECT n FROM notes", "--format", "csv"], capture_output=True, text=True, env=env, timeout=120)
    assert good.returncode == 0 and good.stdout.splitlines() == ["n", "1"]


@pytest.mark.parametrize(
    "sql, says",
    [
        ("SELECT size FROM read_blob('{db}')", r"read_blob\(\) is not allowed"),
        ("SELECT * FROM '{db}'", "is a file, not a table"),
        ("SELECT * FROM glob('{home}/*')", r"glob\(\) is not allowed"),
        ("SELECT " + "(" * 5000 + "1" + ")" * 5000, "nested too deeply"),
        ("SELECT 1 FROM", "not valid SQL"),
    ],
)
def test_the_database_file_and_the_home_cannot_be_read_and_parser_errors_are_one_line(store, sql, says, faults):
    with pytest.raises(QueryRefused, match=says) as refused:
        store.query(sql.format(db=store.path, home=store.path.parent), timeout_s=5)
    assert "\n" not in str(refused.value)
    faults.held("sandbox")


def test_one_expensive_scalar_is_stopped_at_the_limit_and_does_not_starve_a_writer(store, faults):
    """DuckDB's interrupt does not stop a long scalar function: the query's worker process is
    killed at the limit (its snapshot removed with it). A writer does not wait for the query at
    all: the query reads a snapshot, so the lock is held only while the file is copied."""
    import threading

    outcome: dict[str, float] = {}

    def write() -> None:
        time.sleep(0.5)  # while the query holds its shared lock
        started = time.monotonic()
        Store(store.path, busy_timeout_s=30, tables=CATALOG).execute("INSERT INTO notes VALUES (2)")
        outcome["waited"] = time.monotonic() - started

    writer = threading.Thread(target=write)
    started = time.monotonic()
    writer.start()
    with pytest.raises(QueryRefused, match="past its 2 s limit"):
        store.query("SELECT levenshtein(repeat('a', 120000), repeat('b', 120000))", timeout_s=2)
    stopped = time.monotonic() - started
    writer.join(timeout=30)
    assert stopped < 3.5 and outcome["waited"] < 1.0  # the query still had 1.5 s to run
    assert not list(store.path.parent.glob(".query-*"))
    assert store.query("SELECT count(*) AS k FROM notes").to_dict("records") == [{"k": 2}]
    faults.held("sandbox")
