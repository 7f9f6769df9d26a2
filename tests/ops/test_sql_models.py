import pytest

from tracekd_ops.report.sql_models import discover_models, materialize_model, parse_model
from tracekd_ops.steps.catalog import CATALOG
from tracekd_ops.store.store import Store
from tests.conftest import SQL_DIR


def test_upstream_tables_come_from_the_sql_with_ctes_excluded(tmp_path):
    path = tmp_path / "m.sql"
    path.write_text(
        "-- a model\nWITH recent AS (SELECT * FROM predictions)\n"
        "SELECT r.*, m.phi FROM recent r JOIN metrics m USING (dataset) "
        "WHERE r.example_id IN (SELECT example_id FROM traces)"
    )
    model = parse_model(path)
    assert model.upstream_tables == ("metrics", "predictions", "traces")
    assert model.description == "a model"


def test_a_model_must_be_one_select(tmp_path):
    path = tmp_path / "bad.sql"
    path.write_text("DELETE FROM metrics")
    with pytest.raises(ValueError, match="bad.sql: a model is one SELECT"):
        parse_model(path)
    path.write_text("SELECT FROM WHERE (")
    with pytest.raises(ValueError, match="bad.sql: not valid DuckDB SQL"):
        parse_model(path)


def test_project_models_parse_and_build_on_an_empty_schema(tmp_path):
    models = discover_models(SQL_DIR)
    assert "condition_comparison" in {m.name for m in models}
    store = Store(tmp_path / "t.duckdb", tables=CATALOG)
    for model in models:
        assert materialize_model(store, model) == 0
    uncommented = store.rows(
        "SELECT table_name, column_name FROM duckdb_columns() WHERE table_name IN (SELECT unnest(?::VARCHAR[])) "
        "AND (comment IS NULL OR trim(comment) = '')", [[m.name for m in models]],
    )  # fmt: skip
    assert uncommented == []
    described = store.rows("SELECT count(DISTINCT table_name) AS n FROM duckdb_columns() WHERE table_name IN (SELECT unnest(?::VARCHAR[]))",
                           [[m.name for m in models]])  # fmt: skip
    assert described == [{"n": len(models)}]


def test_a_model_column_takes_its_declared_comment_else_the_stored_columns_meaning(tmp_path):
    path = tmp_path / "per_dataset.sql"
    path.write_text("-- Questions per dataset.\n-- test: not_null dataset\n"
                    "-- column questions: distinct questions stored (test: none; a column line is no test line)\n"
                    "SELECT dataset, count(DISTINCT example_id) AS questions FROM raw_examples GROUP BY dataset")  # fmt: skip
    model = parse_model(path)
    assert model.description == "Questions per dataset."
    assert [t.name for t in model.tests] == ["not_null__dataset"]
    store = Store(tmp_path / "t.duckdb", tables=CATALOG)
    materialize_model(store, model)
    rows = store.rows("SELECT column_name, comment FROM duckdb_columns() WHERE table_name = 'per_dataset'")
    comments = {r["column_name"]: r["comment"] for r in rows}
    assert comments == {"dataset": CATALOG.meanings["dataset"], "questions": "distinct questions stored (test: none; a column line is no test line)"}


def test_a_model_column_without_a_comment_is_refused_naming_the_file_and_the_column(tmp_path):
    store = Store(tmp_path / "t.duckdb", tables=CATALOG)
    path = tmp_path / "leaderboard.sql"
    path.write_text("-- The leaderboard.\nSELECT dataset, condition, avg(answer_accuracy) AS mean_accuracy FROM metrics GROUP BY ALL")
    with pytest.raises(ValueError, match=r"leaderboard\.sql: no comment for column\(s\) mean_accuracy: declare each"):
        materialize_model(store, parse_model(path))
    assert store.rows("SELECT count(*) AS n FROM duckdb_tables() WHERE table_name = 'leaderboard'") == [{"n": 0}]  # rolled back
    path.write_text("-- The leaderboard.\n-- column mean_accuracy: mean over runs of answer accuracy (0-1)\n"
                    "SELECT dataset, condition, avg(answer_accuracy) AS mean_accuracy FROM metrics GROUP BY ALL")  # fmt: skip
    materialize_model(store, parse_model(path))
    path.write_text("-- The leaderboard.\n-- column mean_accuracy: mean over runs of answer accuracy (0-1)\n"
                    "SELECT dataset, condition, avg(answer_accuracy) AS mean_accuracy, count(*) AS runs FROM metrics GROUP BY ALL")  # fmt: skip
    with pytest.raises(ValueError, match=r"leaderboard\.sql: no comment for column\(s\) runs"):
        materialize_model(store, parse_model(path))
    assert [r["name"] for r in store.rows("SELECT name FROM pragma_table_info('leaderboard')")] == ["dataset", "condition", "mean_accuracy"]
    path.write_text("-- column mean_acuracy: a typo\nSELECT dataset FROM metrics")
    with pytest.raises(ValueError, match=r"leaderboard\.sql: declares column\(s\) mean_acuracy, which the SELECT does not produce"):
        materialize_model(store, parse_model(path))
    path.write_text("-- column runs:\nSELECT count(*) AS runs FROM metrics")
    with pytest.raises(ValueError, match=r"leaderboard\.sql: column runs is declared without a comment"):
        parse_model(path)
    path.write_text("-- column runs: runs\n-- column runs: runs again\nSELECT count(*) AS runs FROM metrics")
    with pytest.raises(ValueError, match=r"leaderboard\.sql: column runs is declared twice"):
        parse_model(path)


def test_model_tests_are_read_from_the_header_and_count_failing_rows(tmp_path):
    from tracekd_ops.report.sql_models import run_tests

    store = Store(tmp_path / "t.duckdb", tables=CATALOG)
    store.execute("CREATE TABLE scores (name VARCHAR, score DOUBLE)")
    store.execute("INSERT INTO scores VALUES ('a', 0.5), ('a', 1.5), (NULL, 0.2)")
    path = tmp_path / "checked.sql"
    path.write_text("-- scores, checked\n-- test: not_null name\n-- test: unique name\n-- test: accepted_range score 0 1\n"
                    "-- column name: who scored\n-- column score: the score (0-1)\nSELECT name, score FROM scores")  # fmt: skip
    model = parse_model(path)
    assert model.description == "scores, checked"
    assert [(t.kind, t.columns) for t in model.tests] == [("not_null", ("name",)), ("unique", ("name",)), ("accepted_range", ("score",))]
    materialize_model(store, model)
    assert run_tests(store, model) == {"not_null__name": 1, "unique__name": 1, "accepted_range__score": 1}
    path.write_text("-- test: distinct name\nSELECT 1")
    with pytest.raises(ValueError, match="checked.sql: cannot read test line"):
        parse_model(path)


def test_statistics_are_sql_functions_and_columns_trace_back_to_their_sources(tmp_path):
    from tracekd_ops.report.sql_models import column_lineage

    store = Store(tmp_path / "t.duckdb", tables=CATALOG)
    store.execute("CREATE TABLE pairs (run VARCHAR, b BIGINT, c BIGINT)")
    store.execute("INSERT INTO pairs VALUES ('x', 7, 2)")
    path = tmp_path / "tested.sql"
    path.write_text("-- column label: the run\n-- column discordant: discordant pairs\n-- column p: McNemar p\n"
                    "WITH t AS (SELECT run, b, c FROM pairs) SELECT run AS label, b + c AS discordant, mcnemar_p(b, c) AS p FROM t")
    model = parse_model(path)
    materialize_model(store, model)
    assert store.rows('SELECT label, discordant, p FROM "tested"') == [{"label": "x", "discordant": 9, "p": pytest.approx(0.1796875)}]
    lineage = column_lineage(store, model)
    assert lineage["label"] == [("pairs", "run")]
    assert lineage["discordant"] == [("pairs", "b"), ("pairs", "c")]
