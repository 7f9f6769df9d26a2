"""dbt-like SQL models: one SELECT per `.sql` file, materialized as a DuckDB table of its name.

A model's upstream tables are read off its SQL with sqlglot's parser (CTE names excluded), so the
dependency graph follows the SQL and there is no hand-kept list to drift from it. sqlglot's
lineage also traces each output column back to the upstream columns it is computed from.

A model file starts with `--` comment lines: its description, and optionally tests, one per line:

    -- test: not_null dataset, condition
    -- test: unique dataset, condition, base_model
    -- test: accepted_range answer_accuracy 0 1

Statistics SQL lacks are registered as DuckDB functions while a model is built (`SQL_FUNCTIONS`),
so a model can say `mcnemar_p(b, c)` and the statistic is still computed in one place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import sqlglot
from sqlglot import exp

from tracekd_ops.core.tables import Catalog
from tracekd_ops.store.store import Store, sql_string

TEST_KINDS = ("not_null", "unique", "accepted_range")
_TEST_RE = re.compile(r"^--\s*test:\s*(\w+)\s+(.+?)\s*$")


@dataclass(frozen=True)
class SqlTest:
    """A data test on a model's table, run after every build (an asset check in Dagster)."""

    kind: str
    columns: tuple[str, ...]
    bounds: tuple[float, float] | None = None

    @property
    def name(self) -> str:
        return f"{self.kind}__{'__'.join(self.columns)}"

    def failing_rows_sql(self, table: str) -> str:
        """A query counting the rows that break the test (0 means it passes)."""
        cols = ", ".join(f'"{c}"' for c in self.columns)
        if self.kind == "not_null":
            condition = " OR ".join(f'"{c}" IS NULL' for c in self.columns)
            return f'SELECT count(*) FROM "{table}" WHERE {condition}'
        if self.kind == "unique":
            return f'SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM "{table}" GROUP BY {cols})'
        low, high = self.bounds or (0.0, 0.0)
        return f'SELECT count(*) FROM "{table}" WHERE "{self.columns[0]}" NOT BETWEEN {low} AND {high}'


@dataclass(frozen=True)
class SqlModel:
    name: str
    path: Path
    sql: str
    upstream_tables: tuple[str, ...]
    description: str
    tests: tuple[SqlTest, ...] = ()


def _parse_test(path: Path, line: str) -> SqlTest:
    match = _TEST_RE.match(line)
    if not match or match.group(1) not in TEST_KINDS:
        raise ValueError(f"{path}: cannot read test line {line!r}; kinds: {', '.join(TEST_KINDS)}")
    kind, rest = match.group(1), match.group(2)
    if kind == "accepted_range":
        parts = rest.split()
        if len(parts) != 3:
            raise ValueError(f"{path}: accepted_range takes a column and two bounds: {line!r}")
        return SqlTest(kind, (parts[0],), (float(parts[1]), float(parts[2])))
    return SqlTest(kind, tuple(c.strip() for c in rest.split(",") if c.strip()))


def parse_model(path: Path) -> SqlModel:
    """Read one model file; the leading `--` comment lines are its description, tests and column
    comments (`-- column NAME: meaning`, see `declared_columns`)."""
    sql = path.read_text()
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError as error:
        raise ValueError(f"{path}: not valid DuckDB SQL: {error}") from error
    if not isinstance(tree, exp.Query):
        raise ValueError(f"{path}: a model is one SELECT statement, found {tree.key.upper()}")
    cte_names = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    tables = sorted({t.name for t in tree.find_all(exp.Table) if t.name and t.name not in cte_names})
    comments = [line for line in sql.splitlines() if line.startswith("--")]
    declared_columns(path, comments)  # a malformed column line fails here, with the file's name
    comments = [line for line in comments if not _COLUMN_RE.match(line)]
    tests = tuple(_parse_test(path, line) for line in comments if _TEST_RE.match(line) or "test:" in line)
    description = "\n".join(line.removeprefix("--").strip() for line in comments if "test:" not in line)
    return SqlModel(path.stem, path, sql, tuple(tables), description, tests)


def discover_models(folder: Path) -> list[SqlModel]:
    return [parse_model(path) for path in sorted(folder.glob("*.sql"))]


def _mcnemar_p(b: int, c: int) -> float:
    from tracekd_ops.evaluate.stats import mcnemar

    return mcnemar([True] * b + [False] * c, [False] * b + [True] * c).p


SQL_FUNCTIONS: dict[str, tuple[Callable[..., Any], list[str], str]] = {
    "mcnemar_p": (_mcnemar_p, ["BIGINT", "BIGINT"], "DOUBLE"),
}
"""name -> (Python function, argument types, return type), available to every model."""


def _register_functions(con: Any) -> None:
    from duckdb import sqltype

    for name, (function, arguments, returns) in SQL_FUNCTIONS.items():
        con.create_function(name, function, [sqltype(a) for a in arguments], sqltype(returns), side_effects=False)


_COLUMN_RE = re.compile(r"^--\s*column\s+(\w+)\s*:\s*(.*?)\s*$")
"""A model file's `-- column NAME: what it means` line: the comment of an output column that has
no shared meaning (`Catalog.meanings`), or whose meaning in this model differs from it."""


def declared_columns(path: Path, comment_lines: list[str]) -> dict[str, str]:
    """The column comments a model file declares; a line without a comment, or a column declared
    twice, is an error naming the file."""
    declared: dict[str, str] = {}
    for line in comment_lines:
        match = _COLUMN_RE.match(line)
        if not match:
            continue
        name, text = match.group(1), match.group(2)
        if not text:
            raise ValueError(f"{path}: column {name} is declared without a comment: {line!r}")
        if name in declared:
            raise ValueError(f"{path}: column {name} is declared twice")
        declared[name] = text
    return declared


def model_column_comments(model: SqlModel, columns: list[str], tables: Catalog) -> dict[str, str]:
    """The comment of each output column: the file's declaration, else the column's shared meaning
    in the stored tables (`tables.meanings`). A column with neither, or a declaration of no output
    column, is an error naming the file and the columns, so no model column goes undocumented (only
    the built table knows its columns: `SELECT *` and `c.*` hide them from the parser)."""
    declared = declared_columns(model.path, [line for line in model.sql.splitlines() if line.startswith("--")])
    comments = {column: declared.get(column) or tables.column_comment(model.name, column) for column in columns}
    missing = [column for column, text in comments.items() if not text]
    if missing:
        raise ValueError(
            f"{model.path}: no comment for column(s) {', '.join(missing)}: declare each in the file's header as "
            "`-- column NAME: what it means` (a column named as a stored one with the same meaning needs none)"
        )
    unknown = sorted(set(declared) - set(columns))
    if unknown:
        raise ValueError(f"{model.path}: declares column(s) {', '.join(unknown)}, which the SELECT does not produce")
    return comments


def materialize_model(store: Store, model: SqlModel) -> int:
    """Replace the model's table with its SELECT's result in one transaction, its table and every
    column commented (any DuckDB client shows what they mean); returns the row count. A column
    without a comment fails the build and leaves the old table in place."""
    body = model.sql.strip().rstrip(";")
    with store.connect(write=True) as con:
        _register_functions(con)
        con.execute(f'CREATE OR REPLACE TABLE "{model.name}" AS {body}')
        summary = " ".join(model.description.split(". ")[0].split()) or f"SQL model {model.path.name}"
        con.execute(f'COMMENT ON TABLE "{model.name}" IS {sql_string(f"{summary} (SQL model {model.path.name})")}')
        columns = [row[0] for row in con.execute(f"SELECT name FROM pragma_table_info('{model.name}')").fetchall()]
        comments = model_column_comments(model, columns, store.tables)
        con.execute(";\n".join(f'COMMENT ON COLUMN "{model.name}"."{column}" IS {sql_string(text)}' for column, text in comments.items()))
        return int(con.execute(f'SELECT count(*) FROM "{model.name}"').fetchone()[0])


def run_tests(store: Store, model: SqlModel) -> dict[str, int]:
    """Failing row count of each of the model's tests (0: passed)."""
    with store.connect() as con:
        return {test.name: int(con.execute(test.failing_rows_sql(model.name)).fetchone()[0]) for test in model.tests}


def read_model(store: Store, name: str, limit: int | None = None) -> list[dict[str, Any]]:
    """The rows of a built model (the first `limit` of them)."""
    return store.rows(f'SELECT * FROM "{name}"' + (f" LIMIT {int(limit)}" if limit is not None else ""))


def model_columns(store: Store, model: SqlModel) -> list[tuple[str, str, str]]:
    """(name, type, comment) of each column of the built model, as DuckDB holds them."""
    return [(r["column_name"], r["data_type"], r["comment"] or "") for r in store.rows(
        "SELECT column_name, data_type, comment FROM duckdb_columns() WHERE table_name = ? AND NOT internal ORDER BY column_index", [model.name])]  # fmt: skip


def column_lineage(store: Store, model: SqlModel) -> dict[str, list[tuple[str, str]]]:
    """For each output column of the built model, the (upstream table, column) pairs it is
    computed from, as sqlglot's lineage resolves them; columns it cannot trace are left out."""
    from sqlglot.lineage import lineage

    with store.connect() as con:
        schema = {
            table: {name: str(type_) for name, type_ in con.execute(f"SELECT name, type FROM pragma_table_info('{table}')").fetchall()}
            for table in model.upstream_tables
        }
        outputs = [row[0] for row in con.execute(f"SELECT name FROM pragma_table_info('{model.name}')").fetchall()]
    traced: dict[str, list[tuple[str, str]]] = {}
    for column in outputs:
        try:
            root = lineage(column, model.sql, schema=schema, dialect="duckdb")
        except Exception:  # noqa: BLE001 - lineage is best effort: star expansions, UDFs, set operations
            continue
        sources = set()
        for node in root.walk():
            if not node.downstream and isinstance(node.source, exp.Table) and "." in node.name:
                sources.add((node.source.name, node.name.split(".")[-1]))
        if sources:
            traced[column] = sorted(sources)
    return traced
