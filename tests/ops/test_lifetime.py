"""Stopping the servers TraceKD starts, for real: a process group whose leader and whose
grandchildren (one that ignores TERM, one the leader left behind) are all gone afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from tracekd_ops.core.lifetime import stop_process_group

STUBBORN = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(120)"


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie does not: it has stopped, only its exit status is left)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_group_is_stopped_with_what_its_processes_started_even_what_ignores_term():
    leader = subprocess.Popen(
        ["bash", "-c", f'{sys.executable} -c "{STUBBORN}" & echo $!; sleep 120 & echo $!; wait'],
        stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    stubborn, sleeper = int(leader.stdout.readline()), int(leader.stdout.readline())
    deadline = time.monotonic() + 30
    while not all(alive(pid) for pid in (stubborn, sleeper)) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # the stubborn one has set its TERM handler (it printed `ready` into the pipe's buffer)
    started = time.monotonic()
    stop_process_group(leader.pid, [leader], grace_s=1.0)
    assert leader.returncode is not None
    assert not alive(stubborn) and not alive(sleeper)
    assert time.monotonic() - started < 10  # TERM, one grace period, KILL: no wait for the sleeps


def test_a_group_already_gone_is_no_error():
    done = subprocess.Popen(["true"], start_new_session=True)
    done.wait()
    stop_process_group(done.pid, [done])
    assert done.returncode == 0
    assert os.getpgid(os.getpid()) != done.pid
