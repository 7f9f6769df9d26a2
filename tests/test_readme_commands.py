"""The README's commands are the ones a user can paste: each shell line and the Python snippet of the
README runs, as written, in a fresh checkout (the tracked files only, with its own `.venv`), from the
checkout's root, with no TraceKD or Dagster variable set. Three run as a short variant, said here
and why: the demo as a smoke run, `mkdocs serve` as the build it serves, and the test command, which
is what CI runs (`.ci/run`), not run inside itself; `tracekd dev` is started, asked, and stopped.
Every other line runs verbatim, so a command the README gains is tested without a word here."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.fresh_venv import fresh_venv, pip_install

ROOT = Path(__file__).resolve().parents[1]
SHORT_VARIANTS = {
    "bash scripts/demo.sh": "bash scripts/demo.sh --max-steps 2 --per-category-limit 4",  # the whole graph, in about a minute
    ".venv/bin/mkdocs serve": ".venv/bin/mkdocs build --strict --site-dir {tmp}/served",  # what it would serve
}
NOT_RUN_HERE = {"bash scripts/test.sh": "CI runs it (.ci/run); this test is part of it"}
STARTED_AND_STOPPED = ".venv/bin/tracekd dev --home var"
CONSOLE_SCRIPTS = ("dagster", "dg", "mkdocs")


def readme_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)


def readme_commands() -> list[str]:
    """Every command line of the README's bash blocks, without its trailing comment."""
    lines = [line for block in readme_blocks("bash") for line in block.splitlines() if line.strip()]
    return [re.sub(r"\s+#.*$", "", line).strip() for line in lines]


def fresh_checkout(tmp: Path) -> Path:
    """The tracked files (as a clone has them, with this tree's edits), and a `.venv` of its own:
    the project installed editable from the checkout, its dependencies seen through a `.pth` line to
    this environment (nothing downloaded)."""
    checkout = tmp / "checkout"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, tracked):
        source, target = ROOT / name, checkout / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        elif source.exists():
            shutil.copy2(source, target)
    venv = checkout / ".venv"
    python, _ = fresh_venv(venv)
    pip_install(python, "--no-build-isolation", "-e", str(checkout))
    for name in CONSOLE_SCRIPTS:  # the dependencies' commands, run by the checkout's interpreter
        script = (Path(sys.executable).parent / name).read_text().split("\n", 1)[1]
        (venv / "bin" / name).write_text(f"#!{python}\n{script}")
        (venv / "bin" / name).chmod(0o755)
    return checkout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(command: str, checkout: Path, env: dict[str, str], timeout: int = 900) -> subprocess.CompletedProcess:
    result = subprocess.run(["bash", "-c", command], cwd=checkout, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def test_every_readme_command_runs_as_written_in_a_fresh_checkout(tmp_path):
    commands = readme_commands()
    known = {*SHORT_VARIANTS, *NOT_RUN_HERE, STARTED_AND_STOPPED}
    assert {"bash scripts/demo.sh", "bash scripts/test.sh", STARTED_AND_STOPPED} <= set(commands)
    assert "exec bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text()  # the test command is CI's
    checkout = fresh_checkout(tmp_path)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TRACEKD_", "DAGSTER_"))} | {"HF_HUB_OFFLINE": "1"}

    demo = run(SHORT_VARIANTS["bash scripts/demo.sh"], checkout, env, timeout=1500)
    assert f"report:      {checkout / 'var' / 'reports' / 'report.html'}" in demo.stdout, demo.stdout[-2000:]  # var/ of the checkout
    hint = next(line for line in demo.stdout.splitlines() if line.startswith("dagster UI:"))
    assert hint.endswith(f"dev --home {checkout / 'var'}"), hint

    for command in commands:
        if command in known:
            continue
        run(command, checkout, env)
    assert (checkout / "deltas.csv").read_text().startswith("dataset,")
    snippet = readme_blocks("python")
    assert len(snippet) == 1
    frame = run(f"{checkout / '.venv' / 'bin' / 'python'} - <<'EOF'\n{snippet[0]}print(len(store.query('SELECT * FROM run_metrics')))\nEOF", checkout, env)
    assert int(frame.stdout.split()[-1]) > 0
    run(SHORT_VARIANTS[".venv/bin/mkdocs serve"].format(tmp=tmp_path), checkout, env)
    assert (tmp_path / "served" / "index.html").exists()

    port = free_port()  # the UI: up, answering, and stopped by TERM
    log = (tmp_path / "dev.log").open("w")
    dev = subprocess.Popen(["bash", "-c", f"exec {STARTED_AND_STOPPED} --port {port}"], cwd=checkout, env=env, stdout=log,
                           stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while True:
            assert dev.poll() is None and time.monotonic() < deadline, (tmp_path / "dev.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5) as answer:
                    assert answer.status == 200
                    break
            except OSError:
                time.sleep(2)
        dev.send_signal(signal.SIGTERM)
        assert dev.wait(timeout=120) is not None
    finally:
        if dev.poll() is None:
            os.killpg(dev.pid, signal.SIGKILL)
