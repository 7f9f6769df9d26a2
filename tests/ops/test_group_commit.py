"""Group commit on a real DuckDB file: writes from many threads land in few transactions, a write
that raises fails alone, and a failure of the store fails every write of its batch, none landed."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tracekd_ops.steps.catalog import CATALOG
from tracekd_ops.store.group_commit import GroupCommit
from tracekd_ops.store.store import Store, StoreBusy


def add_note(con, value: int) -> int:  # noqa: ANN001 - a DuckDB connection
    if value == 13:
        raise ValueError("13 is refused")
    con.execute("INSERT INTO notes VALUES (?)", [value])
    return value * 2


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "tracekd.duckdb", busy_timeout_s=0.5, tables=CATALOG)
    store.execute("CREATE TABLE notes (value INTEGER)")
    return store


def test_writes_from_many_threads_land_in_few_commits_and_one_refused_write_fails_alone(store, monkeypatch):
    commits = []
    connect = Store.connect

    def counting(self, *args, **kwargs):  # noqa: ANN001, ANN202 - wraps the real connect
        commits.append(kwargs.get("write"))
        return connect(self, *args, **kwargs)

    monkeypatch.setattr(Store, "connect", counting)
    writes = GroupCommit(store)
    futures = {}
    start = threading.Barrier(40)

    def submit(value: int) -> None:
        start.wait()
        futures[value] = writes.submit(add_note, value)

    threads = [threading.Thread(target=submit, args=(value,)) for value in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results = {value: future.exception() or future.result() for value, future in futures.items()}
    assert isinstance(results.pop(13), ValueError)
    assert results == {value: value * 2 for value in range(40) if value != 13}
    monkeypatch.setattr(Store, "connect", connect)
    assert sorted(r["value"] for r in store.rows("SELECT value FROM notes")) == [v for v in range(40) if v != 13]
    assert len(commits) < 20, f"{len(commits)} transactions for 40 writes"


def test_a_busy_store_fails_the_whole_batch_and_nothing_lands(store):
    writes = GroupCommit(store)
    with open(store.path.with_name(store.path.name + ".lock"), "a+") as lock:
        import fcntl

        fcntl.flock(lock, fcntl.LOCK_EX)  # another writer holds the store past the timeout
        futures = [writes.submit(add_note, value) for value in (1, 2, 3)]
        errors = [future.exception(timeout=10) for future in futures]
    assert all(isinstance(error, StoreBusy) for error in errors)
    assert store.rows("SELECT count(*) AS n FROM notes") == [{"n": 0}]
    assert writes.submit(add_note, 4).result(timeout=10) == 8  # and the writer goes on afterwards
