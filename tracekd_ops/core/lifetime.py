"""Processes that must not outlive the one that started them (Linux): a killed run's step, and the
training processes a step launched, die with it instead of training on as orphans (seen: a killed
run's torchrun ranks went on writing checkpoints into the work folder the next run resumed from);
and the servers TraceKD starts (Dagster's, a local teacher) are stopped as a process group, their
own children included."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time
from typing import Sequence

PR_SET_PDEATHSIG = 1


def die_with_parent_process() -> None:
    """Ask the kernel to SIGKILL this process when its parent dies. The request survives `exec`, so
    a launcher can make it and then become the program it launches."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (AttributeError, OSError):
        return  # not Linux
    if os.getppid() == 1:  # the parent died before the request took effect
        os.kill(os.getpid(), signal.SIGKILL)


def stop_process_group(group: int, processes: Sequence[subprocess.Popen] = (), grace_s: float = 5.0) -> None:
    """TERM every process of `group` (started with `start_new_session` or `process_group`), KILL
    what is left of it after `grace_s`, and reap `processes` (ours, in the group). What the group's
    processes started stays in the group, so it goes too (`dagster dev` leaves its code servers
    running). A group already gone is no error: a server that failed to start keeps its own."""
    for number in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(group, number)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            for process in processes:
                process.poll()  # reaped: a zombie child still counts as a member of its group
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
    for process in processes:
        process.wait()
