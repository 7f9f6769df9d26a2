import pytest

from tracekd_ops.report.sql_models import discover_models, materialize_model, parse_model
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
    store = Store(tmp_path / "t.duckdb")
    for model in models:
        assert materialize_model(store, model) == 0


def test_model_tests_are_read_from_the_header_and_count_failing_rows(tmp_path):
    from tracekd_ops.report.sql_models import run_tests

    store = Store(tmp_path / "t.duckdb")
    store.execute("CREATE TABLE scores (name VARCHAR, score DOUBLE)")
    store.execute("INSERT INTO scores VALUES ('a', 0.5), ('a', 1.5), (NULL, 0.2)")
    path = tmp_path / "checked.sql"
    path.write_text("-- scores, checked\n-- test: not_null name\n-- test: unique name\n-- test: accepted_range score 0 1\n"
                    "SELECT name, score FROM scores")  # fmt: skip
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

    store = Store(tmp_path / "t.duckdb")
    store.execute("CREATE TABLE pairs (run VARCHAR, b BIGINT, c BIGINT)")
    store.execute("INSERT INTO pairs VALUES ('x', 7, 2)")
    path = tmp_path / "tested.sql"
    path.write_text("WITH t AS (SELECT run, b, c FROM pairs) SELECT run AS label, b + c AS discordant, mcnemar_p(b, c) AS p FROM t")
    model = parse_model(path)
    materialize_model(store, model)
    assert store.rows('SELECT label, discordant, p FROM "tested"') == [{"label": "x", "discordant": 9, "p": pytest.approx(0.1796875)}]
    lineage = column_lineage(store, model)
    assert lineage["label"] == [("pairs", "run")]
    assert lineage["discordant"] == [("pairs", "b"), ("pairs", "c")]
