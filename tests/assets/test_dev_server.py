"""`tracekd dev` serves the code location (checked over the webserver's GraphQL API) and stops on
TERM even when started as a shell starts a background job (SIGINT ignored), leaving no process of
its session behind."""

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
        sensors = graphql(port, '{ sensorsOrError(repositorySelector: {repositoryLocationName: "tracekd", repositoryName: "__repository__"})'
                                " { ... on Sensors { results { name } } } }")  # fmt: skip
        assert "free_slots_of_dead_runs" in {s["name"] for s in sensors["sensorsOrError"]["results"]}
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
