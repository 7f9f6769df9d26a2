"""TraceKD installs like a package: the wheel built from this tree, installed (not editable) into a
fresh virtualenv, loads the same definitions as the checkout (asset keys, checks, SQL models
shipped as package data), prints the same Dagster instance file (package data too) and takes a
dataset to a report, from a directory with no checkout in it, writing nothing there.

The fresh virtualenv gets the third-party dependencies from this environment's site-packages by a
`.pth` line (nothing to download); TraceKD itself comes from the wheel alone, which the test checks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import PROJECT_ROOT, SHARED_DATA
from tests.fresh_venv import fresh_venv, pip_install
from tracekd_assets.instance import instance_yaml

SOURCES = ("pyproject.toml", "README.md", "tracekd_ops", "tracekd_assets", "dbt_like_sql")
DEFINITIONS = """
import json, tracekd_assets
from tracekd_assets.definitions import defs
graph = defs.resolve_asset_graph()
print(json.dumps({"package": tracekd_assets.__file__,
                  "assets": sorted(key.to_user_string() for key in graph.get_all_asset_keys()),
                  "checks": sorted(key.to_user_string() for key in graph.asset_check_keys),
                  "sql_files": sorted(str(node.metadata.get("sql_file")) for node in graph.asset_nodes if "sql_file" in node.metadata),
                  "jobs": sorted(job.name for job in defs.resolve_all_job_defs())}))
"""


def definitions(python: str, cwd: Path, env: dict[str, str]) -> dict:
    result = subprocess.run([python, "-c", DEFINITIONS], capture_output=True, text=True, timeout=300, cwd=cwd, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


def test_the_built_wheel_installs_loads_the_same_definitions_and_runs(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:  # a copy: building writes build/ and *.egg-info next to the sources
        copy = shutil.copytree if (PROJECT_ROOT / name).is_dir() else shutil.copy2
        copy(PROJECT_ROOT / name, source / name, **({"symlinks": True, "ignore": shutil.ignore_patterns("__pycache__")} if copy is shutil.copytree else {}))  # fmt: skip
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(source), "-w", str(tmp_path / "dist")],
                           capture_output=True, text=True, timeout=300)  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    wheel = next((tmp_path / "dist").glob("tracekd-*.whl"))

    venv = tmp_path / "venv"
    python_path, venv_site = fresh_venv(venv)
    python = str(python_path)
    pip_install(python_path, "--no-index", str(wheel))
    elsewhere = tmp_path / "elsewhere"  # no checkout, no pyproject.toml above it
    elsewhere.mkdir()
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster"), "PYTHONPATH": "", "COLUMNS": "400"}
    (tmp_path / "dagster").mkdir()

    wheel_defs = definitions(python, elsewhere, env)
    checkout_defs = definitions(sys.executable, PROJECT_ROOT, env)
    assert Path(wheel_defs["package"]).is_relative_to(venv_site), wheel_defs["package"]  # the wheel's copy, not the checkout
    assert {key: value for key, value in wheel_defs.items() if key != "package"} == {key: value for key, value in checkout_defs.items() if key != "package"}
    assert len(wheel_defs["sql_files"]) == len(list((PROJECT_ROOT / "dbt_like_sql").glob("*.sql"))) > 0
    # the instance file is package data too: a deployment without the Helm chart prints its dagster.yaml from the wheel
    instance = subprocess.run([str(venv / "bin" / "tracekd"), "instance-config", "--profile", "cluster"], capture_output=True, text=True, timeout=120,
                              cwd=elsewhere, env=env)  # fmt: skip
    assert instance.returncode == 0 and instance.stdout == instance_yaml("cluster"), instance.stderr[-3000:]

    home = tmp_path / "home"
    run = subprocess.run([str(venv / "bin" / "tracekd"), "run", "cotempqa", str(SHARED_DATA / "cotempqa" / "mix.json"), "--per-category-limit", "4",
                          "--max-steps", "2", "--conditions", "solution_only", "--home", str(home)],
                         capture_output=True, text=True, timeout=900, cwd=elsewhere, env=env)  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "| cotempqa | solution_only |" in run.stdout and (home / "reports" / "report.html").exists()
    assert list(elsewhere.iterdir()) == []  # nothing written where it ran
    models = subprocess.run([str(venv / "bin" / "tracekd"), "query", "SELECT count(*) AS models FROM duckdb_tables() WHERE comment LIKE '%SQL model%'",
                             "--home", str(home), "--format", "csv"], capture_output=True, text=True, timeout=120, cwd=elsewhere, env=env)  # fmt: skip
    assert models.returncode == 0 and int(models.stdout.splitlines()[-1]) == len(wheel_defs["sql_files"]), models.stdout + models.stderr
    # with no home named, an installed package keeps its results in the user's data folder, not where it runs
    unnamed = {key: value for key, value in env.items() if key not in ("TRACEKD_HOME", "DAGSTER_HOME")} | {"XDG_DATA_HOME": str(tmp_path / "data")}
    query = subprocess.run([str(venv / "bin" / "tracekd"), "query", "--tables"], capture_output=True, text=True, timeout=120, cwd=elsewhere, env=unnamed)
    assert query.returncode != 0 and f"no TraceKD database at {tmp_path / 'data' / 'tracekd' / 'tracekd.duckdb'}" in query.stderr, query.stderr
