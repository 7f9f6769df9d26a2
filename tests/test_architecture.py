"""The architecture holds: every import between the wings of `tracekd_ops` follows an allowed
arrow (`tracekd_ops.ALLOWED_IMPORTS`), the library never imports Dagster or the Dagster layer, and
the Dagster layer uses no private Dagster module."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tracekd_ops import ALLOWED_IMPORTS

ROOT = Path(__file__).resolve().parents[1]


def imports(path: Path) -> set[str]:
    """Every module a file imports, at any depth (lazy imports inside functions count too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def wing_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "tracekd_ops" and len(parts) > 1 else None


def library_files() -> list[Path]:
    return sorted((ROOT / "tracekd_ops").rglob("*.py"))


def test_every_module_belongs_to_a_wing():
    loose = [str(p.relative_to(ROOT)) for p in library_files() if p.parent == ROOT / "tracekd_ops" and p.name != "__init__.py"]
    assert loose == [], "a module directly under tracekd_ops/ belongs to no wing"
    wings = {p.relative_to(ROOT / "tracekd_ops").parts[0] for p in library_files() if p.parent != ROOT / "tracekd_ops"}
    assert wings == set(ALLOWED_IMPORTS)


def test_wings_import_only_along_allowed_arrows():
    offenders = []
    for path in library_files():
        if path.parent == ROOT / "tracekd_ops":
            continue
        wing = path.relative_to(ROOT / "tracekd_ops").parts[0]
        for module in imports(path):
            target = wing_of(module)
            if target and target != wing and target not in ALLOWED_IMPORTS[wing]:
                offenders.append(f"{path.relative_to(ROOT)}: {wing} -> {target} ({module})")
    assert offenders == []


def test_the_library_never_imports_dagster_or_the_dagster_layer():
    offenders = [
        f"{path.relative_to(ROOT)}: {module}"
        for path in library_files()
        for module in imports(path)
        if module.split(".")[0] in ("dagster", "dagster_webserver", "tracekd_assets")
    ]
    assert offenders == []


PRIVATE_DAGSTER_ALLOWED = {
    "tracekd_assets/instance_storage.py": {"dagster._core.storage.event_log.schema", "dagster._utils.concurrency"},
    "tracekd_assets/defs/recovery.py": {"dagster._core.launcher", "dagster._core.workspace.load_target", "dagster._daemon.controller"},
}
"""The exceptions, and why. The cluster instance's event log storage subclasses dagster-postgres's
to claim pool slots atomically, which needs the slot table and the claim's status type (tested on a
real Postgres server, tests/assets/test_cluster_profile.py). On the local profile, recovery.py adds
the worker health check Dagster's local run launcher lacks (its result types live in
`dagster._core.launcher`), and runs Dagster's daemon controller with only the run queue and run
monitoring, which `dagster-daemon run` cannot be asked for (tests/assets/test_kill_recovery.py has a
test for each that fails the day upstream can do it). Dagster is held to 1.13.x (pyproject), so a
change inside Dagster fails a test, not a deployment."""


def test_the_dagster_layer_uses_only_public_dagster_modules():
    offenders = [
        f"{path.relative_to(ROOT)}: {module}"
        for path in sorted((ROOT / "tracekd_assets").rglob("*.py"))
        for module in imports(path)
        if module.startswith("dagster") and any(part.startswith("_") for part in module.split("."))
        and module not in PRIVATE_DAGSTER_ALLOWED.get(str(path.relative_to(ROOT)), set())
    ]
    assert offenders == []


def test_a_forbidden_arrow_is_caught(tmp_path):
    """The check itself can fail: a store module importing the registry is an offence."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from tracekd_ops.registry.index import RegistryIndex\n")
    targets = {wing_of(m) for m in imports(bad)}
    assert "registry" in targets and "registry" not in ALLOWED_IMPORTS["store"]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import each other, directly or round a loop (Tarjan's strongly
    connected components of more than one module)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in graph.get(module, ()):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = []
            while (member := stack.pop()) != module:
                group.append(member)
            if group:
                cycles.append(sorted([module, *group]))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return cycles


def package_graph(package: str) -> dict[str, set[str]]:
    """Module -> the modules of `package` it imports (lazy imports count: a loop through a function
    body is still two modules that cannot be understood apart)."""
    modules = {module_name(path): path for path in sorted((ROOT / package).rglob("*.py"))}
    graph = {}
    for module, path in modules.items():
        targets = set()
        for imported in imports(path):
            while imported and imported not in modules:  # `from a.b import c` names a.b, or a.b.c when c is a module
                imported = imported.rpartition(".")[0]
            if imported and imported != module:
                targets.add(imported)
        graph[module] = targets
    return graph


def test_no_module_imports_itself_round_a_loop():
    assert {package: import_cycles(package_graph(package)) for package in ("tracekd_ops", "tracekd_assets")} == {"tracekd_ops": [], "tracekd_assets": []}


def test_a_loop_is_caught():
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


SQL = re.compile(r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|DELETE\s+FROM|UPDATE\s+\w+\s+SET|CREATE\s+(OR\s+REPLACE\s+)?TABLE)\b", re.S)  # SQL keywords as this code writes them: upper case


def sql_in(path: Path) -> list[int]:
    """The lines of a file's string constants that are SQL statements."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value)]


def test_the_steps_hold_no_sql():
    """A step composes the wings; the queries live with the tables' owners (each wing's tables.py,
    the registry index, the teacher cache, ratings storage, the SQL models), so a table's SQL has one home."""
    assert [f"{path.relative_to(ROOT)}:{line}" for path in sorted((ROOT / "tracekd_ops" / "steps").glob("*.py")) for line in sql_in(path)] == []


def test_sql_in_a_step_is_caught(tmp_path):
    bad = tmp_path / "step.py"
    bad.write_text('def f(store, name):\n    """Select the style from the stored sets."""\n    return store.rows(f"SELECT style FROM {name} WHERE dataset = ?", ["x"])\n')
    assert sql_in(bad) == [3]  # the f-string's SQL, not the docstring's words


def table_calls(tree: ast.AST) -> list[ast.Call]:
    """The calls of `core.tables.Table` in a module, under whatever name it was imported (other
    classes called `Table`, e.g. the report's or rich's, are not it)."""
    classes, modules = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "tracekd_ops.core.tables":
            classes |= {alias.asname or alias.name for alias in node.names if alias.name == "Table"}
        elif isinstance(node, ast.ImportFrom) and node.module == "tracekd_ops.core":
            modules |= {alias.asname or alias.name for alias in node.names if alias.name == "tables"}
        elif isinstance(node, ast.Import):
            modules |= {alias.asname for alias in node.names if alias.name == "tracekd_ops.core.tables" and alias.asname}
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call) and (
        (isinstance(node.func, ast.Name) and node.func.id in classes)
        or (isinstance(node.func, ast.Attribute) and node.func.attr == "Table" and isinstance(node.func.value, ast.Name) and node.func.value.id in modules))]  # fmt: skip


def declared_tables(paths: list[Path]) -> dict[str, list[str]]:
    """Table name -> the files that declare it (a `core.tables.Table(...)` call), read off the
    source: a name that is not a string literal is recorded as `?`, so it cannot hide."""
    found: dict[str, list[str]] = {}
    for path in paths:
        for node in table_calls(ast.parse(path.read_text(), filename=str(path))):
            named = [k.value for k in node.keywords if k.arg == "name"] or node.args[:1]
            name = named[0].value if named and isinstance(named[0], ast.Constant) else "?"
            found.setdefault(name, []).append(str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name)
    return found


def test_every_table_is_declared_once_in_the_tables_module_of_its_wing():
    """A table's schema lives in the wing that writes it (`<wing>/tables.py`), beside its queries,
    and the catalog the store is given holds exactly those tables."""
    from tracekd_ops.steps.catalog import CATALOG

    declared = declared_tables(library_files())
    misplaced = {name: files for name, files in declared.items()
                 if len(files) != 1 or not re.fullmatch(r"tracekd_ops/\w+/tables\.py", files[0]) or files[0].startswith("tracekd_ops/core/")}  # fmt: skip
    assert misplaced == {}
    assert sorted(declared) == sorted(CATALOG.names())


TABLE_NAMED = re.compile(r"\b(?:FROM|JOIN|INTO|UPDATE)\s+(\w+)")
SQL_READS_ACROSS_WINGS = {"steps", "report"}
"""The steps compose every wing (and hold no SQL); the report's SQL models read every table."""


def sql_strings(path: Path) -> list[tuple[int, str]]:
    """(line, text) of each SQL string constant, an f-string's parts joined around its fields."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.JoinedStr):
            text = "{}".join(part.value for part in node.values if isinstance(part, ast.Constant))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        else:
            continue
        if SQL.search(text):
            found.append((node.lineno, text))
    return found


def foreign_tables(path: Path, wing: str, owners: dict[str, str]) -> list[str]:
    """The stored tables a wing's file names in SQL that neither it nor a wing it may import owns."""
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    return sorted({f"{shown}:{line}: {wing} -> {name} ({owners[name]})" for line, text in sql_strings(path)
                   for name in TABLE_NAMED.findall(text) if name in owners and owners[name] not in (wing, *ALLOWED_IMPORTS[wing])})  # fmt: skip


def table_owners() -> dict[str, str]:
    return {name: Path(files[0]).parts[1] for name, files in declared_tables(library_files()).items()}


def test_a_wings_sql_names_only_its_own_tables_or_those_of_wings_it_may_import():
    owners = table_owners()
    offenders = [offence for path in library_files() if path.parent != ROOT / "tracekd_ops"
                 for wing in [path.relative_to(ROOT / "tracekd_ops").parts[0]] if wing not in SQL_READS_ACROSS_WINGS
                 for offence in foreign_tables(path, wing, owners)]  # fmt: skip
    assert offenders == []


def test_a_table_declared_twice_or_read_from_above_is_caught(tmp_path):
    twice = tmp_path / "tables.py"
    twice.write_text('from tracekd_ops.core import tables\nfrom tracekd_ops.core.tables import Table as T\n\n'
                     'A = T(name="traces", columns="x INTEGER", comment="c")\nB = tables.Table("traces", "y INTEGER", "c")\nC = Table("x", "", "")\n')  # fmt: skip
    assert declared_tables([twice]) == {"traces": ["tables.py", "tables.py"]}
    reader = tmp_path / "reader.py"
    reader.write_text('def f(store, cols):\n    return store.rows(f"SELECT {cols} FROM ratings r JOIN traces t USING (dataset)")\n')
    assert foreign_tables(reader, "traces", table_owners()) == ["reader.py:2: traces -> ratings (ratings)"]
