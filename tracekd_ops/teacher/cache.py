"""The `teacher_requests` table: one row per request hash, the latest outcome. Replies are
written as they arrive, so a killed run loses at most `flush_every_s` of work and the next run asks
only what is missing or failed."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Iterable, Sequence

from tracekd_ops.store.store import Store
from tracekd_ops.teacher.config import public_url
from tracekd_ops.teacher.requests import TeacherReply, TeacherRequest


class TeacherCache:
    """The `teacher_requests` table: one row per request hash, the latest outcome."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, keys: Iterable[str]) -> dict[str, TeacherReply]:
        wanted = sorted(set(keys))
        if not wanted:
            return {}
        rows = self.store.rows(
            "SELECT * FROM teacher_requests WHERE request_hash IN (SELECT unnest(?::VARCHAR[]))", [wanted]
        )
        return {
            row["request_hash"]: TeacherReply(
                row["request_hash"], row["status"], row["content"], row["reasoning"], row["error"],
                row["attempts"], row["latency_s"], row["prompt_tokens"], row["completion_tokens"],
            )  # fmt: skip
            for row in rows
        }

    def put(self, entries: Sequence[tuple[TeacherRequest, TeacherReply]], base_url: str | None) -> None:
        if not entries:
            return
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        rows = [
            {
                "request_hash": reply.request_hash,
                "purpose": request.purpose,
                "model": request.model,
                "endpoint": reply.endpoint or public_url(base_url),
                "request": json.dumps(request.payload(), sort_keys=True),
                "status": reply.status,
                "content": reply.content,
                "reasoning": reply.reasoning,
                "error": reply.error,
                "attempts": reply.attempts,
                "latency_s": reply.latency_s,
                "prompt_tokens": reply.prompt_tokens,
                "completion_tokens": reply.completion_tokens,
                "updated_at": now,
            }
            for request, reply in entries
        ]
        keys = [row["request_hash"] for row in rows]
        import pandas as pd

        with self.store.connect(write=True) as con:
            con.execute("DELETE FROM teacher_requests WHERE request_hash IN (SELECT unnest(?::VARCHAR[]))", [keys])
            con.register("incoming", pd.DataFrame(rows))
            con.execute("INSERT INTO teacher_requests BY NAME SELECT * FROM incoming")
            con.unregister("incoming")
