"""The DuckLake store (catalog on a real Postgres server from Debian's packages, Parquet in a temp
folder): the same `Store` interface as the DuckDB file, writers in several processes at once, a
writer killed mid-transaction, read-only queries that cannot reach past the results, and the
catalog password kept out of every message."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import signal
import time
from pathlib import Path

import duckdb
import pytest

from tests.postgres import postgres_bin, running_postgres
from tracekd_ops.core.lineage import Lineage
from tracekd_ops.steps.catalog import CATALOG, open_store
from tracekd_ops.store.lake import LAKE_PREFIX, LakeStore, LakeUnavailable
from tracekd_ops.store.store import QueryRefused, Store


@pytest.fixture(scope="module")
def catalog():
    if postgres_bin() is None:
        pytest.skip("Postgres is not installed (scripts/debian_packages.sh installs it as root)")
    with running_postgres("lake") as server:
        yield server


def conninfo(server, db: str | None = None) -> str:
    return f"dbname={db or server.db} host={server.host} port={server.port} user={server.user}"


@pytest.fixture
def lake(catalog, tmp_path) -> LakeStore:
    """A fresh lake per test: its own catalog database and data folder."""
    import psycopg2

    db = f"lake_{os.getpid()}_{time.monotonic_ns()}"
    admin = psycopg2.connect(conninfo(catalog))
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {db}")
    admin.close()
    data = tmp_path / "lake"
    data.mkdir()
    data.chmod(0o777)
    return LakeStore(conninfo(catalog, db), data, tables=CATALOG)


def metric_rows(dataset: str, condition: str, seed: int, n: int) -> list[dict]:
    """Prediction rows: every lineage key, then the row's own columns."""
    lineage = {field.name: "x" for field in dataclasses.fields(Lineage)}
    return [{**lineage, "dataset": dataset, "condition": condition, "seed": seed, "example_id": f"{dataset}-{i}", "category": "c",
             "prompt": "p", "output": "o", "gold_class": "g", "gold_fact_ids": [1], "gold_answers": ["a"],
             "answer_correct": i % 2 == 0} for i in range(n)]  # fmt: skip


def test_the_store_interface_works_on_the_lake(lake, tmp_path):
    assert open_store(LAKE_PREFIX + lake.conninfo, tmp_path, lake.data_path).location == lake.location
    assert lake.frame("SELECT * FROM metrics").empty  # created on first use, tables and all
    lake.replace_partition("predictions", {"dataset": "synthetic", "condition": "correct"}, metric_rows("synthetic", "correct", 0, 5))
    lake.replace_partition("predictions", {"dataset": "synthetic", "condition": "correct"}, metric_rows("synthetic", "correct", 0, 3))
    lake.replace_partition("predictions", {"dataset": "babi", "condition": "correct"}, metric_rows("babi", "correct", 0, 4))
    counts = lake.rows("SELECT dataset, count(*) AS n, any_value(gold_answers) AS answers FROM predictions GROUP BY ALL ORDER BY dataset")
    assert counts == [{"dataset": "babi", "n": 4, "answers": ["a"]}, {"dataset": "synthetic", "n": 3, "answers": ["a"]}]
    with pytest.raises(ValueError, match="outside the partition"):
        lake.replace_partition("predictions", {"dataset": "babi", "condition": "correct"}, metric_rows("synthetic", "correct", 0, 1))
    with pytest.raises(duckdb.Error):  # a failed write leaves the old rows
        lake.replace_partition("predictions", {"dataset": "babi", "condition": "correct"}, [{"dataset": "babi", "condition": "correct"}])
    assert lake.rows("SELECT count(*) AS n FROM predictions WHERE dataset = 'babi'") == [{"n": 4}]
    assert list(lake.query("SELECT count(*) AS n FROM predictions")["n"]) == [7]
    copy = lake.snapshot(tmp_path / "copy.duckdb")
    assert Store(copy, tables=CATALOG).rows("SELECT count(*) AS n FROM predictions") == [{"n": 7}]


def test_a_process_makes_sure_of_the_tables_once_per_lake(lake, monkeypatch):
    """Every `home.store()` is a new LakeStore: only the first write of the process creates or
    checks TraceKD's tables (a writer turn and ~20 catalog statements), not one per instance."""
    import tracekd_ops.store.lake as lake_module

    schema_checks = []
    real_unit_of_work = lake_module.unit_of_work

    def recording(con, write, tables):  # noqa: ANN001
        schema_checks.append(tables is not None)
        return real_unit_of_work(con, write, tables)

    monkeypatch.setattr(lake_module, "unit_of_work", recording)
    rows = metric_rows("synthetic", "correct", 0, 3)
    for _ in range(3):
        again = LakeStore(lake.conninfo, lake.data_path, tables=CATALOG)
        again.replace_partitions([("predictions", {"dataset": "synthetic", "condition": "correct", "seed": 0}, rows)])
    assert schema_checks == [True, False, False]
    assert lake.rows("SELECT count(*) AS n FROM predictions")[0]["n"] == 3


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM postgres_scan('dbname=postgres host=127.0.0.1', 'public', 'x')",
        "SELECT * FROM postgres_query('__ducklake_metadata_tracekd', 'SELECT pg_terminate_backend(1)')",
        "SELECT * FROM query('SELECT 1')",
        "INSERT INTO metrics SELECT * FROM metrics",
        "SELECT 1; DROP TABLE metrics",
    ],
)
def test_a_query_cannot_reach_past_the_results(lake, sql, faults):
    lake.exists()
    with pytest.raises(QueryRefused):
        lake.query(sql)
    faults.held("sandbox")


def _replace_many(conn: str, data: str, dataset: str, rounds: int) -> None:
    store = LakeStore(conn, data, tables=CATALOG)
    for i in range(rounds):
        store.replace_partitions([
            ("predictions", {"dataset": dataset}, metric_rows(dataset, "correct", i, 10 + i)),
            ("teacher_requests", {"purpose": dataset}, []),
        ])  # fmt: skip
        store.append("reference_ratings", [{"condition": dataset, "scale": str(i), "mean": 1.0, "source": "t"}])


def test_writers_in_several_processes_lose_and_duplicate_nothing(lake):
    lake.exists()
    datasets, rounds = [f"d{i}" for i in range(4)], 6
    context = multiprocessing.get_context("spawn")
    with context.Pool(len(datasets)) as pool:
        pool.starmap(_replace_many, [(lake.conninfo, lake.data_path, d, rounds) for d in datasets])
    got = lake.rows("SELECT dataset, count(*) AS n, min(seed) AS seed FROM predictions GROUP BY ALL ORDER BY dataset")
    assert got == [{"dataset": d, "n": 10 + rounds - 1, "seed": rounds - 1} for d in datasets]
    assert lake.rows("SELECT count(*) AS n, count(DISTINCT (condition, scale)) AS distinct_rows FROM reference_ratings") == [
        {"n": len(datasets) * rounds, "distinct_rows": len(datasets) * rounds}
    ]


def _hold_the_writers_turn(conn: str, data: str, ready) -> None:
    store = LakeStore(conn, data, tables=CATALOG)
    with store.connect(write=True) as con:
        con.execute("DELETE FROM predictions")
        ready.set()
        time.sleep(600)


def test_a_killed_writer_neither_blocks_later_writes_nor_leaves_half_a_write(lake, faults):
    lake.replace_partition("predictions", {"dataset": "synthetic"}, metric_rows("synthetic", "correct", 0, 3))
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    writer = context.Process(target=_hold_the_writers_turn, args=(lake.conninfo, lake.data_path, ready))
    writer.start()
    assert ready.wait(120)
    impatient = LakeStore(lake.conninfo, lake.data_path, busy_timeout_s=1.0, tables=CATALOG)
    with pytest.raises(Exception, match=f"held by tracekd writer pid {writer.pid}"):
        impatient.append("reference_ratings", [{"condition": "x", "scale": "y", "mean": 1.0, "source": "t"}])
    assert lake.rows("SELECT count(*) AS n FROM predictions") == [{"n": 3}]  # readers never wait
    os.kill(writer.pid, signal.SIGKILL)
    writer.join(30)
    started = time.monotonic()
    LakeStore(lake.conninfo, lake.data_path, busy_timeout_s=30.0, tables=CATALOG).append(
        "reference_ratings", [{"condition": "x", "scale": "y", "mean": 1.0, "source": "t"}]
    )
    assert time.monotonic() - started < 30
    assert lake.rows("SELECT count(*) AS n FROM predictions") == [{"n": 3}]
    faults.held("kill")


def test_the_catalog_password_shows_in_no_message(catalog, tmp_path, faults):
    secret = "s3cr3t-Pa55"
    store = open_store(f"{LAKE_PREFIX}dbname=nowhere host={catalog.host} port={catalog.port} user=nobody password={secret}", tmp_path)
    assert secret not in store.location and "password=***" in store.location
    with pytest.raises(Exception) as raised:
        store.rows("SELECT 1")
    assert secret not in str(raised.value) and secret not in repr(raised.value)
    assert "nowhere" in str(raised.value) or "nobody" in str(raised.value)
    faults.held("secret")


def test_an_extension_for_another_duckdb_is_refused_with_the_reason(monkeypatch, tmp_path):
    monkeypatch.setattr(duckdb, "__version__", "9.9.9")
    with pytest.raises(LakeUnavailable, match=r"for DuckDB 9\.9\.9.*built for: v1\.4\.4"):
        LakeStore("dbname=x", tmp_path, tables=CATALOG)
