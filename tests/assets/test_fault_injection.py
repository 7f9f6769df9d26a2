"""Fault injection: many materializations through the real CLI, some SIGKILLed at a random moment,
some fed a bad source; after each, no stored partition lost or duplicated rows, every metric still
describes predictions that exist, and the next run is never blocked by what a killed one left."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from dagster import instance_for_test
from dagster import materialize as dagster_materialize

from tracekd_assets.definitions import ALL_ASSETS
from tracekd_assets.defs.jobs import condition_job, raw_job
from tracekd_assets.defs.partitions import run_key
from tracekd_assets.defs.resources import ExperimentSettings, RegistrySettings, TeacherSettings, TraceKDHome
from tracekd_assets.demo import prepare_dagster_home
from tracekd_ops.steps.catalog import CATALOG
from tracekd_ops.store.store import Store

ROOT = Path(__file__).resolve().parents[2]
DAGSTER = str(Path(sys.executable).parent / "dagster")
SHARED_COTEMPQA = ROOT.parent / "shared" / "data" / "cotempqa"
TINY = {
    "synthetic_train_per_task": 40, "synthetic_test_per_task": 8, "eval_batch_size": 16, "eval_max_new_tokens": 40,
    "per_category_limit": 3, "sources": {"cotempqa": str(SHARED_COTEMPQA)},
    "training": {"max_steps": 30, "batch_size": 8, "save_every": 10,
                 "model": {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "intermediate_size": 64}},
}  # fmt: skip
CORRECT = str(run_key("synthetic", "correct"))
JOBS = [
    ("raw_examples", "synthetic"),
    ("traces", CORRECT),
    ("student,predictions,metrics", CORRECT),
    ("predictions,metrics", CORRECT),
]
BAD_SOURCES = {
    "empty": "",
    "truncated JSON": '{"index": 1, "question": "Who?", "facts": ["A held X."], "answer": ["A"]}\n{"index": 2, "quest',
    "markup only": json.dumps({"index": 1, "question": "Who? </think>", "facts": ["A."], "answer": ["A"]}),
    "NUL bytes": json.dumps({"index": 1, "question": "Who\u0000?", "facts": ["A."], "answer": ["A"]}),
}


def check_invariants(store: Store) -> None:
    """No partition lost or duplicated rows; every metric points at predictions that exist."""
    assert store.rows("SELECT count(*) - count(DISTINCT (dataset, split, example_id)) AS d FROM raw_examples")[0]["d"] == 0
    assert store.rows("SELECT count(*) - count(DISTINCT (dataset, condition, example_id)) AS d FROM traces")[0]["d"] == 0
    sets = store.rows("""SELECT s.dataset, s.condition, s.rows, count(t.example_id) AS stored FROM trace_sets s
                         LEFT JOIN traces t USING (dataset, condition, trace_set_version) GROUP BY ALL""")  # fmt: skip
    assert all(s["rows"] == s["stored"] for s in sets), sets
    keys = "dataset, condition, student, base_model, seed"
    assert store.rows(f"SELECT count(*) - count(DISTINCT ({keys}, example_id)) AS d FROM predictions")[0]["d"] == 0
    orphans = store.rows(f"""SELECT m.*, (SELECT count(*) FROM predictions p WHERE (p.dataset, p.condition, p.student, p.base_model,
                             p.seed, p.model_revision) = (m.dataset, m.condition, m.student, m.base_model, m.seed, m.model_revision)) AS k
                             FROM metrics m""")  # fmt: skip
    assert all(m["k"] == m["n"] for m in orphans), [(m["condition"], m["model_revision"], m["n"], m["k"]) for m in orphans]
    assert store.rows("SELECT count(*) - count(DISTINCT revision) AS d FROM registry")[0]["d"] == 0


def test_random_kills_and_bad_inputs_never_lose_duplicate_or_block(tmp_path, faults):
    rng = random.Random(1234)
    home = tmp_path / "home"
    store = Store(home / "tracekd.duckdb", tables=CATALOG)
    env = {**os.environ, "DAGSTER_HOME": str(prepare_dagster_home(tmp_path / "dagster"))}

    def materialize(select: str, partition: str, settings: dict, kill_after: float | None = None) -> str:
        config = tmp_path / "run.yaml"
        config.write_text(json.dumps({"resources": {"experiment": {"config": settings}, "home": {"config": {"home": str(home)}}}}))
        log = tmp_path / "run.log"
        with log.open("w") as out:
            process = subprocess.Popen([DAGSTER, "asset", "materialize", "-m", "tracekd_assets.definitions", "--select", select,
                                        "--partition", partition, "-c", str(config)], cwd=ROOT, env=env, stdout=out,
                                       stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
            try:
                process.wait(timeout=kill_after if kill_after is not None else 600)
                return "finished" if process.returncode == 0 else "failed"
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
                return "killed"

    # a complete baseline, in process (quicker): every partition the loop touches holds good rows
    resources = {"home": TraceKDHome(home=str(home)), "experiment": ExperimentSettings(**TINY),
                 "teacher": TeacherSettings(base_url=None, model=None), "registry": RegistrySettings(backend="local")}  # fmt: skip
    with instance_for_test() as instance:
        for selection, partition in ((raw_job.selection, "synthetic"), (condition_job.selection, CORRECT), (raw_job.selection, "cotempqa")):
            assert dagster_materialize(ALL_ASSETS, selection=selection, partition_key=partition, instance=instance, resources=resources).success
    cotempqa = store.rows("SELECT example_id FROM raw_examples WHERE dataset = 'cotempqa' ORDER BY ALL")
    check_invariants(store)

    outcomes: dict[str, int] = {}
    deadline = time.monotonic() + 150
    rounds = 0
    while rounds < 6 and time.monotonic() < deadline:
        rounds += 1
        if rng.random() < 0.3:
            name, text = rng.choice(sorted(BAD_SOURCES.items()))
            bad = tmp_path / f"bad{rounds}"
            bad.mkdir()
            (bad / "equal.json").write_text(text)
            outcome = materialize("raw_examples", "cotempqa", {**TINY, "sources": {"cotempqa": str(bad)}})
            assert outcome == "failed", f"bad input ({name}) was accepted"
            assert store.rows("SELECT example_id FROM raw_examples WHERE dataset = 'cotempqa' ORDER BY ALL") == cotempqa
            outcomes["bad inputs refused"] = outcomes.get("bad inputs refused", 0) + 1
        else:
            select, partition = rng.choice(JOBS)
            outcome = materialize(select, partition, TINY, kill_after=rng.uniform(4.0, 20.0))
            outcomes[f"runs {outcome}"] = outcomes.get(f"runs {outcome}", 0) + 1
        check_invariants(store)

    # whatever the kills left, the next run is not blocked and runs to the end
    assert materialize("student,predictions,metrics", CORRECT, TINY) == "finished", (tmp_path / "run.log").read_text()[-3000:]
    check_invariants(store)
    print(f"fault injection: {rounds} rounds survived: {dict(sorted(outcomes.items()))}")
    assert outcomes.get("runs killed", 0) >= 1 and outcomes.get("bad inputs refused", 0) >= 1
    faults.held("kill", outcomes["runs killed"])
    faults.held("bad_input", outcomes["bad inputs refused"])
