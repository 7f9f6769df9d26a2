"""The suite's fault-injection figure: what the tests that inject faults did, counted as they pass.

A test takes the `faults` fixture and calls `faults.held(kind)` for each fault it injected and saw
handled: a process killed and the work recovered, a bad input refused with the stored data as it
was, a query-sandbox vector blocked, a secret looked for everywhere TraceKD writes and not found.
What a failing test counted is reported as not held. At the end of a session that ran any, the
figure is printed and saved to `var/fault_injection.json` (the README quotes a full run's)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest

KINDS = {
    "kill": "kills survived",
    "bad_input": "bad inputs refused",
    "sandbox": "sandbox vectors blocked",
    "secret": "secret searches without a leak",
}
RESULT = Path(__file__).resolve().parents[1] / "var" / "fault_injection.json"


class Faults:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def held(self, kind: str, count: int = 1) -> None:
        """`count` faults of `kind` injected and handled (call it after the assertion that shows it)."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(KINDS)}")
        self.counts[kind] += count


TALLY = pytest.StashKey[Faults]()
HELD: Counter[str] = Counter()
NOT_HELD: Counter[str] = Counter()


@pytest.fixture
def faults(request: pytest.FixtureRequest) -> Faults:
    tally = Faults()
    request.node.stash[TALLY] = tally
    return tally


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    outcome = yield
    report = outcome.get_result()
    tally = item.stash.get(TALLY, None)
    if tally is not None and report.when == "call":
        (HELD if report.passed else NOT_HELD).update(tally.counts)


def pytest_terminal_summary(terminalreporter: object) -> None:
    if not (HELD or NOT_HELD):
        return
    figure = {KINDS[kind]: {"held": HELD[kind], "not_held": NOT_HELD[kind]} for kind in KINDS}
    line = ", ".join(f"{name} {counts['held']}" + (f" (NOT HELD: {counts['not_held']})" if counts["not_held"] else "")
                     for name, counts in figure.items())  # fmt: skip
    terminalreporter.write_line(f"fault injection: {line}")  # type: ignore[attr-defined]
    RESULT.parent.mkdir(exist_ok=True)
    RESULT.write_text(json.dumps({"at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "figure": figure}, indent=2))
