"""Group commit: many small writes from many threads, committed together.

Each write to the DuckDB file pays for opening it, taking the store's lock and committing (about
45 ms for a rating, nearly all of it overhead), one after another. A page that 50 participants
submit to at once queued them for seconds. Here one thread takes every write waiting, runs them in
one transaction and commits once, so the cost is paid once per batch, not once per write.

A write is a function of a connection in that transaction, run again if another write of its batch
fails (the batch is rolled back and run without the failed one): it must not change anything
outside the database. The one that raised gets its own exception; a failure of the store itself
(busy past its timeout, disk full) goes to every write of the batch, none of which landed.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future
from typing import Any, Callable, TypeVar

import duckdb

from tracekd_ops.store.store import Store

T = TypeVar("T")
log = logging.getLogger("tracekd.store")


class _WriteFailed(Exception):
    """One write of a batch raised: the batch is rolled back and run again without it."""

    def __init__(self, index: int, error: BaseException) -> None:
        super().__init__(str(error))
        self.index, self.error = index, error


class GroupCommit:
    """A writer thread for one store; `submit` hands it a write and returns its future."""

    def __init__(self, store: Store, max_batch: int = 256) -> None:
        self.store, self.max_batch = store, max_batch
        self._waiting: queue.SimpleQueue[tuple[Callable[[duckdb.DuckDBPyConnection], Any], Future]] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="tracekd-group-commit", daemon=True)
        self._thread.start()

    def submit(self, write: Callable[..., T], *args: Any) -> Future[T]:
        """Run `write(con, *args)` in the next batch's transaction; the future holds its result."""
        future: Future[T] = Future()
        self._waiting.put((lambda con: write(con, *args), future))
        return future

    def _run(self) -> None:
        while True:
            batch = [self._waiting.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._waiting.get_nowait())
                except queue.Empty:
                    break
            self._commit(batch)

    def _commit(self, batch: list[tuple[Callable[[duckdb.DuckDBPyConnection], Any], Future]]) -> None:
        while batch:
            try:
                with self.store.connect(write=True) as con:
                    results = []
                    for index, (write, _) in enumerate(batch):
                        try:
                            results.append(write(con))
                        except Exception as error:
                            raise _WriteFailed(index, error) from error
            except _WriteFailed as failed:
                batch[failed.index][1].set_exception(failed.error)
                batch = batch[: failed.index] + batch[failed.index + 1 :]
                continue
            except Exception as error:  # the store itself: nothing of this batch landed
                log.warning("a batch of %d writes failed: %s", len(batch), error)
                for _, future in batch:
                    future.set_exception(error)
                return
            for (_, future), result in zip(batch, results):
                future.set_result(result)
            return
