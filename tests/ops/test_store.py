"""DuckDB store: atomic partition replacement and cross-process writer serialization, for real."""

import multiprocessing as mp
import time

import duckdb
import pytest

from tracekd_ops.steps.catalog import CATALOG
from tracekd_ops.store.store import Store, schema_columns


def metric_row(condition: str, n: int) -> dict:
    return {
        "dataset": "synthetic", "condition": condition, "student": "s", "base_model": "m", "seed": 0, "trace_set_version": "v",
        "model_revision": "r", "eval_split": "test", "scorer_version": "s", "dataset_source": "generated", "dataset_hash": "h",
        "n": n, "answer_accuracy": 0.5,
        "chance_accuracy": 0.1, "majority_accuracy": 0.2, "created_at": "2026-01-01 00:00:00",
    }  # fmt: skip


def test_replace_partition_swaps_only_that_partition(tmp_path):
    store = Store(tmp_path / "t.duckdb", tables=CATALOG)
    store.replace_partition("metrics", {"condition": "a"}, [metric_row("a", 1)])
    store.replace_partition("metrics", {"condition": "b"}, [metric_row("b", 2)])
    store.replace_partition("metrics", {"condition": "a"}, [metric_row("a", 3)])
    rows = store.rows("SELECT condition, n FROM metrics ORDER BY condition")
    assert rows == [{"condition": "a", "n": 3}, {"condition": "b", "n": 2}]


def test_a_failed_write_leaves_the_stored_partition_as_it_was(tmp_path):
    store = Store(tmp_path / "t.duckdb", tables=CATALOG)
    store.replace_partition("metrics", {"condition": "a"}, [metric_row("a", 1)])
    broken = {**metric_row("a", 2), "answer_accuracy": None}  # NOT NULL column
    with pytest.raises(duckdb.ConstraintException):
        store.replace_partition("metrics", {"condition": "a"}, [metric_row("a", 2), broken])
    assert store.rows("SELECT n FROM metrics") == [{"n": 1}]


def test_several_partitions_land_together_or_not_at_all(tmp_path):
    store = Store(tmp_path / "t.duckdb", tables=CATALOG)
    store.replace_partition("metrics", {"condition": "a"}, [metric_row("a", 1)])
    broken = {**metric_row("b", 2), "answer_accuracy": None}
    with pytest.raises(duckdb.ConstraintException):
        store.replace_partitions([("metrics", {"condition": "a"}, [metric_row("a", 5)]), ("metrics", {"condition": "b"}, [broken])])
    assert store.rows("SELECT condition, n FROM metrics") == [{"condition": "a", "n": 1}]
    store.replace_partitions([("metrics", {"condition": "a"}, [metric_row("a", 5)]), ("metrics", {"condition": "b"}, [metric_row("b", 2)])])
    assert store.rows("SELECT condition, n FROM metrics ORDER BY 1") == [{"condition": "a", "n": 5}, {"condition": "b", "n": 2}]


def test_a_file_from_an_older_schema_gains_the_new_columns_and_keeps_its_rows(tmp_path):
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as con:  # `traces` as TraceKD wrote it before trace styles existed
        con.execute("CREATE TABLE traces (dataset VARCHAR NOT NULL, condition VARCHAR NOT NULL, example_id VARCHAR)")
        con.execute("INSERT INTO traces VALUES ('synthetic', 'correct', 'x-1')")
    store = Store(path, tables=CATALOG)
    store.execute("SELECT 1")  # any write connection brings the schema up to date
    columns = {r["name"] for r in store.rows("SELECT name FROM pragma_table_info('traces')")}
    assert {"style", "trace_source_id", "construction", "trace_set_version"} <= columns
    assert store.rows("SELECT example_id, style FROM traces") == [{"example_id": "x-1", "style": None}]


def stored_comments(path) -> tuple[dict, dict]:
    """(table, column) -> column comment and table -> table comment of the stored tables, as any
    DuckDB client reads them."""
    with duckdb.connect(str(path), read_only=True) as con:
        columns = con.execute("SELECT table_name, column_name, comment FROM duckdb_columns() WHERE schema_name = 'main'").fetchall()
        tables = con.execute("SELECT table_name, comment FROM duckdb_tables() WHERE schema_name = 'main'").fetchall()
    names = CATALOG.names()
    return ({(t, c): text for t, c, text in columns if t in names}, {t: text for t, text in tables if t in names})


def test_every_column_of_every_stored_table_has_its_comment_in_the_file(tmp_path):
    path = tmp_path / "t.duckdb"
    Store(path, tables=CATALOG).execute("SELECT 1")  # a new file: tables made on the first write
    columns, tables = stored_comments(path)
    declared = {(t, name) for t, cols in schema_columns(CATALOG).items() for name, _, _ in cols}
    assert set(columns) == declared and len(declared) > 300
    assert {key: text for key, text in columns.items() if not text} == {}
    assert all(text == CATALOG.column_comment(*key) for key, text in columns.items())
    assert tables == {table.name: table.comment for table in CATALOG.tables}


def test_a_file_without_comments_gets_them_on_its_next_write_and_keeps_its_rows(tmp_path):
    path = tmp_path / "old.duckdb"
    store = Store(path, tables=CATALOG)
    store.replace_partition("metrics", {"condition": "a"}, [metric_row("a", 1)])
    stored = stored_comments(path)[0]
    with duckdb.connect(str(path)) as con:  # as a file made before column comments existed
        for table, column in stored:
            con.execute(f'COMMENT ON COLUMN {table}."{column}" IS NULL')
        con.execute("COMMENT ON TABLE metrics IS NULL")
        con.execute("COMMENT ON COLUMN traces.style IS 'an outdated wording'")
    assert set(stored_comments(path)[0].values()) == {None, "an outdated wording"}
    store.execute("SELECT 1")
    columns, tables = stored_comments(path)
    assert all(columns.values()) and tables["metrics"]
    assert columns["traces", "style"] != "an outdated wording"  # the code's wording wins
    assert store.rows("SELECT condition, n FROM metrics") == [{"condition": "a", "n": 1}]


def test_column_comments_are_one_short_line_each_and_name_real_columns():
    columns = {(t, name) for t, cols in schema_columns(CATALOG).items() for name, _, _ in cols}
    own = {f"{table.name}.{column}": text for table in CATALOG.tables for column, text in table.column_comments.items()}
    for key, text in {**CATALOG.meanings, **own}.items():
        table, _, column = key.rpartition(".")
        assert (table, column) in columns if table else any(c == column for _, c in columns), f"{key}: no such stored column"
        assert "\n" not in text and 15 <= len(text) <= 125, f"{key}: one line, 15-125 characters ({len(text)})"
    assert CATALOG.column_comment("traces", "trace_set_version") != CATALOG.column_comment("metrics", "trace_set_version")  # table's own wins
    assert CATALOG.column_comment("metrics", "trace_set_version") == CATALOG.meanings["trace_set_version"]
    assert CATALOG.column_comment("some_model", "no_such_column") == ""


def test_the_catalog_refuses_a_table_or_a_shared_meaning_declared_twice():
    from tracekd_ops.core.tables import Catalog
    from tracekd_ops.steps.catalog import shared_meanings

    with pytest.raises(ValueError, match="declared more than once: metrics"):
        Catalog(tables=(*CATALOG.tables, CATALOG["metrics"]), meanings=CATALOG.meanings)
    with pytest.raises(ValueError, match="defined twice: dataset"):
        shared_meanings({"dataset": "one", "split": "x"}, {"dataset": "another"})


def test_rows_outside_the_partition_are_refused(tmp_path, faults):
    store = Store(tmp_path / "t.duckdb", tables=CATALOG)
    with pytest.raises(ValueError, match="outside the partition"):
        store.replace_partition("metrics", {"condition": "a"}, [metric_row("b", 1)])
    faults.held("bad_input")


def _writer(path: str, worker: int, rounds: int) -> None:
    store = Store(path, tables=CATALOG)
    for i in range(rounds):
        store.replace_partition("metrics", {"condition": f"w{worker}-{i}"}, [metric_row(f"w{worker}-{i}", i)])
        store.rows("SELECT count(*) FROM metrics")


def test_concurrent_writer_processes_queue_instead_of_failing(tmp_path):
    path = str(tmp_path / "t.duckdb")
    context = mp.get_context("spawn")
    workers = [context.Process(target=_writer, args=(path, w, 15)) for w in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(120)
    assert [p.exitcode for p in workers] == [0, 0, 0, 0]
    assert Store(path, tables=CATALOG).rows("SELECT count(*) AS n FROM metrics") == [{"n": 60}]


def test_without_the_lock_duckdb_refuses_a_second_writer_process(tmp_path):
    """Why the lock exists: DuckDB itself allows one writing process per file."""
    path = tmp_path / "t.duckdb"
    holder = duckdb.connect(str(path))
    holder.execute("CREATE TABLE x (i INTEGER)")
    context = mp.get_context("spawn")
    with context.Pool(1) as pool:
        error = pool.apply(_try_open, (str(path),))
    holder.close()
    assert error is not None and "lock" in error.lower()


def _try_open(path: str) -> str | None:
    try:
        duckdb.connect(path).close()
    except duckdb.Error as e:
        return str(e)
    return None


def _hold(path: str, seconds: float, marker: str) -> None:
    con = duckdb.connect(path, read_only=True)
    open(marker, "w").close()  # tell the test the file is held now
    time.sleep(seconds)
    con.close()


def _held_by_outsider(pool, path, seconds, marker):  # noqa: ANN001, ANN202
    result = pool.apply_async(_hold, (path, seconds, str(marker)))
    while not marker.exists():
        time.sleep(0.02)
    marker.unlink()
    return result


def test_a_writer_waits_for_an_outside_reader_holding_the_file_then_writes(tmp_path):
    from tracekd_ops.store.store import StoreBusy

    store = Store(tmp_path / "t.duckdb", tables=CATALOG)
    store.replace_partition("metrics", {"condition": "a"}, [metric_row("a", 1)])
    with mp.get_context("spawn").Pool(1) as pool:
        held = _held_by_outsider(pool, str(store.path), 1.0, tmp_path / "held")  # think: an open duckdb CLI
        started = time.monotonic()
        store.replace_partition("metrics", {"condition": "a"}, [metric_row("a", 2)])
        waited = time.monotonic() - started
        held.get(timeout=30)
    assert waited > 0.2 and store.rows("SELECT n FROM metrics") == [{"n": 2}]
    impatient = Store(tmp_path / "t.duckdb", busy_timeout_s=0.3, tables=CATALOG)
    with mp.get_context("spawn").Pool(1) as pool:
        held = _held_by_outsider(pool, str(store.path), 2.0, tmp_path / "held")
        with pytest.raises(StoreBusy, match="held by another process outside TraceKD"):
            impatient.execute("DELETE FROM metrics")
        held.get(timeout=30)
    assert store.rows("SELECT n FROM metrics") == [{"n": 2}]



def test_a_damaged_file_fails_at_once_as_itself_not_as_busy(tmp_path, faults):
    """Only another process's lock is waited out; any other failure to open (here a header that
    no longer matches its checksum; a file from a newer DuckDB gets its own `StoreUnreadable`)
    fails at once in DuckDB's words."""
    store = Store(tmp_path / "t.duckdb", busy_timeout_s=60, tables=CATALOG)
    store.replace_partition("metrics", {"condition": "a"}, [metric_row("a", 1)])
    with open(store.path, "r+b") as file:
        file.seek(12)
        file.write((999).to_bytes(8, "little"))
    started = time.monotonic()
    with pytest.raises(duckdb.IOException, match="checksum"):
        store.rows("SELECT * FROM metrics")
    assert time.monotonic() - started < 30
    faults.held("bad_input")
