import pytest

from tracekd_ops.sql_models import discover_models, materialize_model, parse_model
from tracekd_ops.store import Store
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
