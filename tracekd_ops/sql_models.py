"""dbt-like SQL models: one SELECT per `.sql` file, materialized as a DuckDB table of its name.

A model's upstream tables are read off its SQL with sqlglot's parser (CTE names excluded), so the
dependency graph follows the SQL and there is no hand-kept list to drift from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlglot
from sqlglot import exp

from tracekd_ops.store import Store


@dataclass(frozen=True)
class SqlModel:
    name: str
    path: Path
    sql: str
    upstream_tables: tuple[str, ...]
    description: str


def parse_model(path: Path) -> SqlModel:
    """Read one model file; the leading `--` comment lines are its description."""
    sql = path.read_text()
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError as error:
        raise ValueError(f"{path}: not valid DuckDB SQL: {error}") from error
    if not isinstance(tree, exp.Query):
        raise ValueError(f"{path}: a model is one SELECT statement, found {tree.key.upper()}")
    cte_names = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    tables = sorted({t.name for t in tree.find_all(exp.Table) if t.name and t.name not in cte_names})
    description = "\n".join(
        line.removeprefix("--").strip() for line in sql.splitlines() if line.startswith("--")
    )
    return SqlModel(path.stem, path, sql, tuple(tables), description)


def discover_models(folder: Path) -> list[SqlModel]:
    return [parse_model(path) for path in sorted(folder.glob("*.sql"))]


def materialize_model(store: Store, model: SqlModel) -> int:
    """Replace the model's table with its SELECT's result in one transaction; returns the row count."""
    body = model.sql.strip().rstrip(";")
    with store.connect(write=True) as con:
        con.execute(f'CREATE OR REPLACE TABLE "{model.name}" AS {body}')
        return int(con.execute(f'SELECT count(*) FROM "{model.name}"').fetchone()[0])
