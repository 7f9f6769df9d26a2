"""The teacher's cache: `teacher_requests`, one row per request hash with the latest outcome, and
`teacher_request_questions`, the questions each request is about. Replies are written as they
arrive, so a killed run loses at most `flush_every_s` of work and the next run asks only what is
missing or failed; a follow-up is read back by the key of the answer it follows up."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from tracekd_ops.store.store import Store
from tracekd_ops.teacher.config import public_url
from tracekd_ops.teacher.requests import TeacherReply, TeacherRequest

if TYPE_CHECKING:
    import duckdb
    import pandas as pd


_NEW_LINKS = """
    SELECT DISTINCT l.* FROM links l WHERE NOT EXISTS (
        SELECT 1 FROM teacher_request_questions q WHERE q.request_hash = l.request_hash AND q.dataset = l.dataset
        AND q.example_id = l.example_id AND q.follows IS NOT DISTINCT FROM l.follows)
"""
"""The (request, question, answer followed up) links of the registered frame `links` not stored yet."""


def _links(requests: Sequence[TeacherRequest]) -> pd.DataFrame:
    import pandas as pd

    rows = [{"request_hash": r.key, "dataset": r.dataset, "example_id": r.example_id, "follows": r.follows}
            for r in requests if r.dataset is not None and r.example_id is not None]  # fmt: skip
    return pd.DataFrame(rows, columns=["request_hash", "dataset", "example_id", "follows"]).astype(object)


def _insert_links(con: duckdb.DuckDBPyConnection, links: pd.DataFrame) -> None:
    if links.empty:
        return
    con.register("links", links)
    con.execute(f"INSERT INTO teacher_request_questions BY NAME {_NEW_LINKS}")
    con.unregister("links")


def _reply(row: dict[str, Any]) -> TeacherReply:
    return TeacherReply(row["request_hash"], row["status"], row["content"], row["reasoning"], row["error"],
                        row["attempts"], row["latency_s"], row["prompt_tokens"], row["completion_tokens"])  # fmt: skip


class TeacherCache:
    """`teacher_requests`: one row per request hash, the latest outcome; `teacher_request_questions`:
    the questions each request was about (and, a follow-up, the answer request it follows up)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, keys: Iterable[str]) -> dict[str, TeacherReply]:
        wanted = sorted(set(keys))
        if not wanted:
            return {}
        rows = self.store.rows(
            "SELECT * FROM teacher_requests WHERE request_hash IN (SELECT unnest(?::VARCHAR[]))", [wanted]
        )
        return {row["request_hash"]: _reply(row) for row in rows}

    def follow_ups(self, answer_keys: Iterable[str], purpose: str, model: str) -> dict[str, TeacherReply]:
        """Per answer key, the reply to its `purpose` follow-up written by `model`, found by the
        answer's key alone (a follow-up's own key needs the answer's reply to render); a successful
        reply before a failed one, then the latest."""
        wanted = sorted(set(answer_keys))
        if not wanted:
            return {}
        rows = self.store.rows(
            "SELECT q.follows, r.* FROM teacher_request_questions q JOIN teacher_requests r USING (request_hash) "
            "WHERE q.follows IN (SELECT unnest(?::VARCHAR[])) AND r.purpose = ? AND r.model = ? "
            "QUALIFY row_number() OVER (PARTITION BY q.follows ORDER BY r.status = 'ok' DESC, r.updated_at DESC, r.request_hash) = 1",
            [wanted, purpose, model],
        )
        return {row["follows"]: _reply(row) for row in rows}

    def link(self, requests: Sequence[TeacherRequest]) -> None:
        """Record the question each request is about (every one: identical questions share a key),
        before it is asked, and for requests a store written before `teacher_request_questions`
        holds; writes only when one is missing."""
        links = _links(requests)
        if links.empty:
            return
        stored = self.store.rows("SELECT request_hash, dataset, example_id, follows FROM teacher_request_questions "
                                 "WHERE request_hash IN (SELECT unnest(?::VARCHAR[]))", [sorted(set(links["request_hash"]))])  # fmt: skip
        if set(links.itertuples(index=False, name=None)) - {tuple(row.values()) for row in stored}:
            with self.store.connect(write=True) as con:
                _insert_links(con, links)

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
