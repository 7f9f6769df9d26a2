import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import SHARED_DATA

TRACEKD = str(Path(sys.executable).parent / "tracekd")


def test_inspect_prints_one_json_summary():
    result = subprocess.run([TRACEKD, "datasets", "inspect", "cotempqa", str(SHARED_DATA / "cotempqa")],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["questions"] == 1652 and summary["by_category"]["mix"] == 563
    assert sum(summary["gold_facts"].values()) == 1652


def test_inspect_fails_with_the_error_on_malformed_input(tmp_path, faults):
    path = tmp_path / "qa1_single-supporting-fact_train.txt"
    path.write_text("1 Mary went home.\n2 Where is Mary?\thome\t9\n")
    result = subprocess.run([TRACEKD, "datasets", "inspect", "babi", str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "line 2 (supporting ids)" in result.stderr and result.stdout == ""
    faults.held("bad_input")


def test_inspect_msmarco_with_either_gold_rule(tmp_path):
    row = {"query_id": 1, "query": "q", "query_type": "ENTITY", "answers": ["red apple"],
           "passages": [{"is_selected": 0, "url": "u", "passage_text": "a red apple"}]}  # fmt: skip
    path = tmp_path / "dev.jsonl"
    path.write_text(json.dumps(row))
    for rule, gold in (("is_selected", {"one": 0, "several": 0, "none": 1}), ("max_overlap", {"one": 1, "several": 0, "none": 0})):
        result = subprocess.run([TRACEKD, "datasets", "inspect", "msmarco", str(path), "--gold-rule", rule],
                                capture_output=True, text=True, timeout=120)  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["gold_facts"] == gold


def test_run_takes_a_downloaded_dataset_to_a_report(tmp_path):
    home = tmp_path / "home"
    env = {**__import__("os").environ, "DAGSTER_HOME": str(tmp_path / "dagster"), "COLUMNS": "400"}  # a wide terminal: one line a row
    (tmp_path / "dagster").mkdir()
    bad = subprocess.run([TRACEKD, "run", "cotempqa", str(tmp_path / "nowhere"), "--home", str(home)],
                         capture_output=True, text=True, timeout=300, env=env)  # fmt: skip
    assert bad.returncode == 2 and "no file or folder at" in bad.stderr and "Traceback" not in bad.stderr
    run = subprocess.run([TRACEKD, "run", "cotempqa", str(SHARED_DATA / "cotempqa" / "mix.json"), "--per-category-limit", "4",
                          "--max-steps", "1000", "--max-seconds", "3", "--conditions", "solution_only", "--home", str(home)],
                         capture_output=True, text=True, timeout=900, env=env)  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "| cotempqa | solution_only |" in run.stdout and (home / "reports" / "report.html").exists()
    # the budget, not the steps, ended training: said under the table, where the accuracy is read
    assert "warning:     cotempqa/solution_only" in run.stdout and "budget (3.0 s) at step" in run.stdout and "of 1000" in run.stdout
    assert "raise --max-seconds" in run.stdout  # the flag that lifts it, as the CLI spells it
    # and marked wherever its numbers appear: the printed table, the SQL model, the report
    lines = run.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if "stopped early (--max-seconds)" in line)
    header, row = lines[at], lines[at + 2]
    assert dict(zip(map(str.strip, header.split("|")), map(str.strip, row.split("|"))))["stopped early (--max-seconds)"] == "1"
    stopped = subprocess.run([TRACEKD, "query", "SELECT runs_stopped_early FROM condition_comparison", "--home", str(home)],
                             capture_output=True, text=True, timeout=120, env=env)  # fmt: skip
    assert stopped.returncode == 0 and "1" in stopped.stdout.splitlines()[-1], stopped.stdout + stopped.stderr
    assert "stopped early (--max-seconds)" in (home / "reports" / "report.html").read_text()
    tables = subprocess.run([TRACEKD, "query", "--tables", "--home", str(home)], capture_output=True, text=True, timeout=120, env=env)
    assert "| registry " in tables.stdout and "every student checkpoint: lineage, status" in tables.stdout, tables.stdout + tables.stderr
    assert "(SQL model condition_comparison.sql)" in tables.stdout  # the SQL models say what they are too
    described = subprocess.run([TRACEKD, "query", "--describe", "registry", "--home", str(home)], capture_output=True, text=True,
                               timeout=120, env=env)  # fmt: skip
    assert "| content_digest " in described.stdout and "VARCHAR" in described.stdout
    assert f"dagster UI:  {TRACEKD} dev --home {home}" in run.stdout  # the hint as printed, which test_dev_server runs


def test_term_stops_the_demo_and_its_workers(tmp_path):
    """TERM during training ends `tracekd demo` and every worker process it started: nothing left
    running, nothing waited for (the default TERM would end the parent alone)."""
    import os
    import signal
    import time

    log = tmp_path / "demo.log"
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster")}
    with log.open("w") as out:
        # started as a shell starts a background job (`cmd &`, as CI does): with SIGINT ignored
        demo = subprocess.Popen([TRACEKD, "demo", "--home", str(tmp_path / "home")], stdout=out, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while "training (full)" not in log.read_text():  # a worker is training: the moment that used to hang
            assert demo.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(1)
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=60) != 0
        time.sleep(2)
        survivors = subprocess.run(["pgrep", "-s", str(demo.pid)], capture_output=True, text=True).stdout.split()
        assert survivors == [], f"processes of the demo still running after TERM: {survivors}"
    finally:
        try:
            os.killpg(demo.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_published_import_runs_through_dagster_to_the_report(tmp_path):
    """`tracekd published import` on the study's published CoTempQA outputs: the asset's run lands in
    the Dagster instance, the report is written, the reading and the left-out lines are printed."""
    import os

    from dagster import AssetKey, DagsterInstance

    published = SHARED_DATA / "trace_check_qa_outputs" / "cotempqa"
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster")}
    (tmp_path / "dagster").mkdir()
    bad = subprocess.run([TRACEKD, "published", "import", str(tmp_path / "nowhere"), "--home", str(tmp_path / "home")],
                         capture_output=True, text=True, timeout=120, env=env)  # fmt: skip
    assert bad.returncode == 2 and "no file or folder at" in bad.stderr and "Traceback" not in bad.stderr
    run = subprocess.run([TRACEKD, "published", "import", str(published), "--home", str(tmp_path / "home"), "--source",
                          "github:sbhambr1/Trace_Check_QA@fa84bdc"], capture_output=True, text=True, timeout=600, env=env)  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "evaluation_outputs/equal/Qwen3-1.7B-sft-adapter-reasoning-facts_default.json: 87 of 87 lines scored" in run.stdout
    assert "left out:    106 line(s): repeats a question read earlier in its student's files (counted once)" in run.stdout
    assert "reading:     Qwen/Qwen3-1.7B / correct: TraceKD's scoring, n 331" in run.stdout
    assert (tmp_path / "home" / "reports" / "report.html").exists()
    with DagsterInstance.from_config(str(tmp_path / "dagster")) as instance:
        event = instance.get_latest_materialization_event(AssetKey("published_students"))
    metadata = event.asset_materialization.metadata
    assert event.asset_materialization.partition == "cotempqa"
    assert metadata["students"].value == 8 and metadata["source"].value == "github:sbhambr1/Trace_Check_QA@fa84bdc"


def test_run_takes_a_train_and_a_test_file_and_refuses_a_source_without_a_test_split_before_any_work(tmp_path, faults):
    en = SHARED_DATA / "babi" / "tasks_1-20_v1-2" / "en"
    train, test = en / "qa1_single-supporting-fact_train.txt", en / "qa1_single-supporting-fact_test.txt"
    both = subprocess.run([TRACEKD, "datasets", "inspect", "babi", str(train), str(test)], capture_output=True, text=True, timeout=120)
    summary = json.loads(both.stdout)
    assert summary["by_split"] == {"test": 1000, "train": 1000}
    assert summary["protocol"]["by_split"] == {"test": 20, "train": 200}  # what the reference protocol uses of them
    home = tmp_path / "home"
    alone = subprocess.run([TRACEKD, "run", "babi", str(train), "--home", str(home)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert alone.returncode == 2 and alone.stderr.count("\n") == 1 and "no test questions (found {'train': 200})" in alone.stderr
    assert not home.exists() and list(tmp_path.iterdir()) == []  # nothing ran, nothing was written
    faults.held("bad_input")
