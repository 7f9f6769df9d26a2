"""The one retry loop: the teacher client and the Hub registry both retry through it, so both
count attempts, back off and report the last error the same way."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Attempted(Generic[T]):
    """What a retried call came to: its value, or the last error (already safe to store)."""

    value: T | None
    error: str | None
    attempts: int

    @property
    def ok(self) -> bool:
        return self.error is None


def with_retries(
    call: Callable[[int], T],
    max_attempts: int,
    delay_s: Callable[[int, Exception], float | None],
    describe: Callable[[Exception], str],
    sleep: Callable[[float], None] = time.sleep,
    catch: tuple[type[Exception], ...] = (Exception,),
) -> Attempted[T]:
    """Call `call(attempt)` until it returns, at most `max_attempts` times. After a failure of a
    kind in `catch`, `delay_s(attempt, error)` says how long to wait before the next try, or None
    when no other try can help (a permanent fault). `describe` turns an error into the text kept
    (and must scrub secrets): a caught exception never leaves this function; others propagate."""
    error = "not attempted"
    for attempt in range(1, max_attempts + 1):
        try:
            return Attempted(call(attempt), None, attempt)
        except catch as fault:
            error = describe(fault)
            wait = delay_s(attempt, fault)
            if wait is None:
                return Attempted(None, error, attempt)
            if attempt < max_attempts:
                sleep(wait)
    return Attempted(None, error, max_attempts)
