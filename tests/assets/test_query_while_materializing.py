"""Reading results while Dagster materializes, without breaking either side: queries through the
store's lock (Python and `tracekd query`), a `tracekd snapshot` opened with plain DuckDB, and even
a raw DuckDB connection holding the live file for a moment (writers wait for it)."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
from dagster import AssetKey, instance_for_test, materialize

from tracekd_assets.definitions import ALL_ASSETS
from tracekd_assets.defs.partitions import run_key
from tracekd_assets.demo import prepare_dagster_home

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def hold_live_file(path: str, seconds: float) -> int:
    """An outside reader (like an open duckdb CLI): opens the live file read-only, retrying while a
    TraceKD writer has it, keeps it open for `seconds`, and returns how many traces it saw."""
    deadline = time.monotonic() + 60
    while True:
        try:
            con = duckdb.connect(path, read_only=True)
            break
        except duckdb.IOException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    try:
        count = con.execute("SELECT count(*) FROM traces").fetchone()[0]
        time.sleep(seconds)
        return int(count)
    finally:
        con.close()


def test_reads_during_a_materialization_never_fail_and_never_break_it(tmp_path, tiny_home, tiny_experiment, no_teacher, local_registry):
    experiment = tiny_experiment.with_changes(training={"max_steps": 60})
    resources = {"home": tiny_home, "experiment": experiment, "teacher": no_teacher, "registry": local_registry}
    with instance_for_test() as instance:
        assert materialize(ALL_ASSETS, selection=[AssetKey("raw_examples")], partition_key="synthetic", instance=instance,
                           resources=resources).success  # fmt: skip
    config = tmp_path / "run.yaml"
    config.write_text(json.dumps({"resources": {"experiment": {"config": {**experiment.as_config(), "experiment_file": None}},
                                                "registry": {"config": {"backend": "local"}}}}))  # fmt: skip
    env = {**os.environ, "DAGSTER_HOME": str(prepare_dagster_home(tmp_path / "dagster")), "TRACEKD_HOME": str(tiny_home.root)}
    command = [str(BIN / "dagster"), "asset", "materialize", "-m", "tracekd_assets.definitions", "-c", str(config),
               "--select", "traces,student,predictions,metrics", "--partition", str(run_key("synthetic", "correct"))]  # fmt: skip
    log = tmp_path / "run.log"
    store = tiny_home.store()
    reads, seen_traces = 0, set()
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    outside = mp.get_context("spawn").Pool(1)
    held = None
    cli_output = snapshot_rows = None
    while process.poll() is None:
        seen_traces.add(store.rows("SELECT count(*) AS n FROM traces")[0]["n"])  # the Python way, through the lock
        reads += 1
        if held is None and seen_traces != {0}:  # traces are in: hold the live file while the student is written
            held = outside.apply_async(hold_live_file, (str(store.path), 2.0))
        if cli_output is None and seen_traces != {0}:
            query = [str(BIN / "tracekd"), "query", "SELECT condition, count(*) AS n FROM traces GROUP BY ALL", "--home", str(tiny_home.root), "--format", "json"]
            cli_output = json.loads(subprocess.run(query, capture_output=True, text=True, check=True, env=env).stdout)
            snapshot = tmp_path / "snap.duckdb"
            subprocess.run([str(BIN / "tracekd"), "snapshot", str(snapshot), "--home", str(tiny_home.root)], check=True, env=env,
                           capture_output=True)  # fmt: skip
            with duckdb.connect(str(snapshot)) as con:  # a plain DuckDB session on the copy, open as long as we like
                snapshot_rows = con.execute("SELECT count(*) FROM traces").fetchone()[0]
        time.sleep(0.02)
    assert process.returncode == 0, log.read_text()[-3000:]
    outside_count = held.get(timeout=120)
    outside.close()
    assert reads > 10 and seen_traces <= {0, 120}, seen_traces  # the old rows or the new, never a mix
    assert cli_output == [{"condition": "correct", "n": 120}] and snapshot_rows == 120
    assert outside_count == 120
    assert store.rows("SELECT count(*) AS n FROM metrics") == [{"n": 1}]
