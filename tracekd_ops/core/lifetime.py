"""Processes that must not outlive the one that started them (Linux): a killed run's step, and the
training processes a step launched, die with it instead of training on as orphans (seen: a killed
run's torchrun ranks went on writing checkpoints into the work folder the next run resumed from)."""

from __future__ import annotations

import ctypes
import os
import signal

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
