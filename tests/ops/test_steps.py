"""The steps' contract with the Dagster layer: every step an asset calls returns a `StepOutcome`
(so one function, `materialized`, shows them all), and no step looks up the dataset or condition
it was handed: the Dagster layer resolves a partition once and passes the `DatasetSpec` and
`Condition` on."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOOKUPS = {("tracekd_ops.datasets", "dataset_spec"), ("tracekd_ops.datasets.catalog", "dataset_spec"), ("tracekd_ops.traces.conditions", "condition")}
"""The functions that turn a dataset or condition name into what it means."""
NOT_STEPS = {"catalog"}
"""Modules of `tracekd_ops.steps` the Dagster layer uses for other than work: `catalog` opens the store."""


def called_steps(layer: Path) -> set[tuple[str, str]]:
    """(module, name) of everything the Dagster layer imports from `tracekd_ops.steps`."""
    found = set()
    for path in layer.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tracekd_ops.steps."):
                found |= {(node.module.rsplit(".", 1)[1], alias.name) for alias in node.names}
    return found


def outcome_offenders(layer: Path, steps: Path) -> list[str]:
    """Public step functions the Dagster layer calls that are not annotated to return `StepOutcome`."""
    offenders = []
    for module, name in sorted(called_steps(layer)):
        if module in NOT_STEPS or name.startswith("_"):
            continue
        tree = ast.parse((steps / f"{module}.py").read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name == name and (node.returns is None or ast.unparse(node.returns) != "StepOutcome"):
                offenders.append(f"{module}.{name} -> {ast.unparse(node.returns) if node.returns else 'unannotated'}")
    return offenders


def lookup_offenders(steps: Path) -> list[str]:
    """Calls in a step module of `dataset_spec` or `condition` on a parameter of the function making
    them: a name the step was handed, looked up again instead of resolved once by its caller."""
    offenders = []
    for path in sorted(steps.glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        lookups = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                   for alias in node.names if (node.module, alias.name) in LOOKUPS}  # fmt: skip
        for function in ast.walk(tree):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            parameters = {a.arg for a in (*function.args.posonlyargs, *function.args.args, *function.args.kwonlyargs)}
            for call in ast.walk(function):
                if (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in lookups and call.args
                        and isinstance(call.args[0], ast.Name) and call.args[0].id in parameters):  # fmt: skip
                    offenders.append(f"{path.name}:{call.lineno} {function.name}: {call.func.id}({call.args[0].id})")
    return offenders


def test_every_step_the_dagster_layer_calls_returns_a_step_outcome():
    assert called_steps(ROOT / "tracekd_assets" / "defs")  # the check sees the layer's imports at all
    assert outcome_offenders(ROOT / "tracekd_assets" / "defs", ROOT / "tracekd_ops" / "steps") == []


def test_no_step_looks_up_the_dataset_or_condition_it_was_handed():
    assert lookup_offenders(ROOT / "tracekd_ops" / "steps") == []


def test_a_step_returning_something_else_or_looking_up_its_partition_is_caught(tmp_path):
    layer, steps = tmp_path / "defs", tmp_path / "steps"
    layer.mkdir()
    steps.mkdir()
    (layer / "assets.py").write_text("from tracekd_ops.steps.catalog import open_store\nfrom tracekd_ops.steps.work import done, raw, LIMIT\n")
    (steps / "catalog.py").write_text("def open_store(location): ...\n")
    (steps / "work.py").write_text(
        "from tracekd_ops.datasets import dataset_spec as spec_of\nfrom tracekd_ops.traces.conditions import condition\n"
        "LIMIT = 3\n"
        "def done(store, dataset: str) -> StepOutcome:\n    return StepOutcome(metadata={'rows': len(spec_of(dataset).labels)})\n"
        "def raw(store, condition_name: str) -> dict:\n    return {'family': condition(condition_name).family}\n"
        "def meanings(names) -> dict:\n    return {name: condition(name).meaning for name in names}\n"
    )
    assert outcome_offenders(layer, steps) == ["work.raw -> dict"]
    assert lookup_offenders(steps) == ["work.py:5 done: spec_of(dataset)", "work.py:7 raw: condition(condition_name)"]
