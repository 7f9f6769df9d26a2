"""`tracekd dev` serves the code location on the instance the checked-in instance file configures
(run queue, run monitoring, the local launcher with its worker health check: checked over the
webserver's GraphQL API) and stops on TERM even when started as a shell starts a background job
(SIGINT ignored), leaving no process of its session behind."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": query}).encode(),
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


def session_processes(session: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[3]) == session and fields[0] != "Z":
                pids.append(int(entry.name))
    return pids


def test_dev_serves_the_graph_and_stops_on_term_when_started_in_the_background(tmp_path):
    port = free_port()
    env = {**os.environ, "TRACEKD_HOME": str(tmp_path / "home"), "DAGSTER_HOME": str(tmp_path / "dagster")}
    (tmp_path / "dagster").mkdir()
    log = (tmp_path / "dev.log").open("w")
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "tracekd"), "dev", "--port", str(port)], cwd=ROOT, env=env, stdout=log,
        stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, (tmp_path / "dev.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the webserver never came up"
            try:
                nodes = graphql(port, "{ assetNodes { assetKey { path } } }")["assetNodes"]
                break
            except OSError:
                time.sleep(1)
        assert {"raw_examples", "traces", "student", "predictions", "metrics", "report"} <= {n["assetKey"]["path"][0] for n in nodes}
        instance = graphql(port, "{ instance { runLauncher { name } runQueueConfig { maxConcurrentRuns } "
                                 "daemonHealth { allDaemonStatuses { daemonType required } } } }")["instance"]  # fmt: skip
        assert instance["runLauncher"]["name"] == "LocalRunLauncher" and instance["runQueueConfig"]["maxConcurrentRuns"] == 4
        required = {d["daemonType"] for d in instance["daemonHealth"]["allDaemonStatuses"] if d["required"]}
        assert {"QUEUED_RUN_COORDINATOR", "MONITORING"} <= required  # Dagster's run queue and run monitoring, under `dagster dev`'s daemon
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=120)  # a hang, not a speed: dagster dev alone ignores TERM here forever
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    for _ in range(100):
        if not session_processes(process.pid):
            break
        time.sleep(0.2)
    assert session_processes(process.pid) == []


def sensor_ticks(port: int, name: str) -> list[str]:
    selector = f'{{repositoryLocationName: "tracekd", repositoryName: "__repository__", sensorName: "{name}"}}'
    data = graphql(port, f"{{ sensorOrError(sensorSelector: {selector}) {{ ... on Sensor {{ sensorState {{ ticks(limit: 5) {{ status }} }} }} }} }}")
    return [t["status"] for t in data["sensorOrError"]["sensorState"]["ticks"]]


def test_dev_given_only_a_home_finds_its_instance_from_any_directory_and_starts_no_run(tmp_path):
    """What the demo prints to copy-paste (`tracekd dev --home <home>`) works as printed, outside the
    repository and with neither variable set; the UI's automation ticks, and starts nothing."""
    port, home = free_port(), tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k not in ("TRACEKD_HOME", "DAGSTER_HOME")}
    log = (tmp_path / "dev.log").open("w")
    process = subprocess.Popen([str(Path(sys.executable).parent / "tracekd"), "dev", "--home", str(home), "--port", str(port)],
                               cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while True:
            assert process.poll() is None, (tmp_path / "dev.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the sensors never ticked"
            try:
                ticks = {name: sensor_ticks(port, name) for name in ("new_student_revision", "answer_rule_changed")}
                if all(ticks.values()):
                    break
            except (OSError, KeyError, TypeError):
                pass
            time.sleep(2)
        assert all(status == "SKIPPED" for statuses in ticks.values() for status in statuses), ticks
        assert graphql(port, "{ runsOrError { ... on Runs { count } } }")["runsOrError"]["count"] == 0
        assert (home / "dagster" / "tracekd_home").read_text().strip() == str(home)
        assert (home / "dagster_home").read_text().strip() == str(home / "dagster")
        assert not (tmp_path / "var").exists()  # nothing written where it was started
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=120)
    assert "does not match" not in (tmp_path / "dev.log").read_text()


def test_plain_dagster_with_only_dagster_home_writes_to_the_home_of_that_instance(tmp_path, monkeypatch):
    """`dagster dev` in the repository with DAGSTER_HOME alone: its runs write where the runs it
    shows wrote, not to a new ./var of the current directory."""
    from tracekd_assets.defs.resources import TraceKDHome
    from tracekd_assets.demo import bind_instance

    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("TRACEKD_HOME", raising=False)
    instance = bind_instance(tmp_path / "home")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(instance))
    assert TraceKDHome().root == tmp_path / "home"
    monkeypatch.setenv("TRACEKD_HOME", str(tmp_path / "other"))  # the home named explicitly wins
    assert TraceKDHome().root == tmp_path / "other"


def test_with_nothing_said_the_home_is_the_checkouts_var_never_the_current_directory(tmp_path, monkeypatch):
    from tracekd_assets.home import CHECKOUT, default_home

    for variable in ("DAGSTER_HOME", "TRACEKD_HOME"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(tmp_path)
    assert default_home() == str(CHECKOUT / "var") and CHECKOUT == ROOT  # an installed wheel: tests/assets/test_wheel_install.py
