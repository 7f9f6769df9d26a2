"""The rating study's rows in the project's DuckDB file, through the store's single-writer rule:
each function is one short unit of work under the store's lock (the page's writes take a
connection in a transaction, so that its group commit can run many in one), so the rating page
and a running materialization take turns instead of failing, and a rejected or failed write
changes nothing.

Panels: `real` ratings (from the rating page or imported from another tool) and `simulated`
ones are stored side by side, labelled, and never analysed together.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping, Sequence

import duckdb

from tracekd_ops.ratings.items import ItemSet, RatingItem
from tracekd_ops.ratings.study import participant_order
from tracekd_ops.store.store import Store

REAL, SIMULATED = "real", "simulated"
PANELS = (REAL, SIMULATED)
RATING_COLUMNS = ("item_set_version", "item_id", "participant_id", "panel", "source", "dataset", "condition",
                  "trace_set_version", "interpretability", "cognitive_load", "comment", "submitted_at")  # fmt: skip


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def token_digest(token: str) -> str:
    """Sessions are looked up by the hash of their cookie: the database never holds a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def store_item_set(store: Store, item_set: ItemSet) -> int:
    """Store an item set (idempotent: the same content is the same version)."""
    keys = {"item_set_version": item_set.version}
    summary = {**item_set.summary_row(), "created_at": _now()}
    store.replace_partitions([("rating_item_sets", keys, [summary]), ("rating_items", keys, item_set.item_rows())])
    return len(item_set.items)


def latest_item_set(store: Store, dataset: str | None = None) -> str | None:
    sql = "SELECT item_set_version FROM rating_item_sets" + (" WHERE dataset = ?" if dataset else "")
    rows = store.rows(sql + " ORDER BY created_at DESC LIMIT 1", [dataset] if dataset else [])
    return rows[0]["item_set_version"] if rows else None


def newest_item_sets(store: Store) -> list[str]:
    """The newest item set of each dataset."""
    rows = store.rows("SELECT arg_max(item_set_version, created_at) AS v FROM rating_item_sets GROUP BY dataset ORDER BY dataset")
    return [r["v"] for r in rows]


def load_items(store: Store, item_set_version: str) -> list[RatingItem]:
    rows = store.rows("SELECT * FROM rating_items WHERE item_set_version = ? ORDER BY item_id", [item_set_version])
    if not rows:
        raise LookupError(f"no rating item set {item_set_version!r} in {store.location} (materialize rating_items first)")
    return [RatingItem(**{k: v for k, v in row.items() if k != "item_set_version"}) for row in rows]


@dataclass(frozen=True)
class Session:
    item_set_version: str
    participant_id: str
    platform: str
    study_id: str | None
    session_id: str | None
    item_order: tuple[str, ...]
    counterbalance_row: int
    completed: bool


def _session(row: Mapping[str, Any]) -> Session:
    return Session(row["item_set_version"], row["participant_id"], row["platform"], row["study_id"], row["session_id"],
                   tuple(row["item_order"]), row["counterbalance_row"], row["completed_at"] is not None)  # fmt: skip


class ParticipantTaken(PermissionError):
    """The participant id already has a session in another browser: only that browser may go on."""


def start_session(
    con: duckdb.DuckDBPyConnection, items: Sequence[RatingItem], item_set_version: str, participant_id: str, token: str,
    platform: str, study_id: str | None = None, session_id: str | None = None,
) -> Session:  # fmt: skip
    """Open the participant's session, or return it when this browser (token) already has it; on
    a connection in a write transaction (`store.connect(write=True)`, or the page's group commit).
    Counterbalancing rows are handed out in turn, inside that transaction, so two participants
    starting at once get different rows."""
    digest = token_digest(token)
    cursor = con.execute(
        "SELECT * FROM rating_sessions WHERE item_set_version = ? AND participant_id = ?", [item_set_version, participant_id]
    )
    found = cursor.fetchone()
    if found:
        row = dict(zip([d[0] for d in cursor.description], found))
        if row["token_sha256"] != digest:
            raise ParticipantTaken(f"participant {participant_id} has already started this study in another browser")
        return _session(row)
    (turn,) = con.execute("SELECT count(*) FROM rating_sessions WHERE item_set_version = ?", [item_set_version]).fetchone()
    order = participant_order([i.as_order_item() for i in items], turn, participant_id, item_set_version)
    con.execute(
        "INSERT INTO rating_sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
        [item_set_version, participant_id, platform, study_id, session_id, digest, order, turn, _now()],
    )
    return Session(item_set_version, participant_id, platform, study_id, session_id, tuple(order), turn, False)


def session_for(store: Store, token: str) -> tuple[Session, set[str]] | None:
    """The session of this browser's token and the items it has answered (one read)."""
    with store.connect() as con:
        cursor = con.execute("SELECT * FROM rating_sessions WHERE token_sha256 = ?", [token_digest(token)])
        found = cursor.fetchone()
        if found is None:
            return None
        session = _session(dict(zip([d[0] for d in cursor.description], found)))
        rows = con.execute(
            "SELECT item_id FROM ratings WHERE item_set_version = ? AND participant_id = ? AND panel = ?",
            [session.item_set_version, session.participant_id, REAL],
        ).fetchall()
    return session, {item_id for (item_id,) in rows}


def record_answer(
    con: duckdb.DuckDBPyConnection, session: Session, item: RatingItem, values: Mapping[str, int], comment: str | None
) -> bool:  # fmt: skip
    """Store one answer of the rating page, on a connection in a write transaction; False (and
    nothing changed) when this participant has already answered this item: a resubmitted form is
    not counted twice. Marks the session complete with its last item."""
    (seen,) = con.execute(
        "SELECT count(*) FROM ratings WHERE item_set_version = ? AND participant_id = ? AND item_id = ? AND panel = ?",
        [session.item_set_version, session.participant_id, item.item_id, REAL],
    ).fetchone()
    if seen:
        return False
    con.execute(
        f"INSERT INTO ratings ({', '.join(RATING_COLUMNS)}) VALUES ({', '.join('?' * len(RATING_COLUMNS))})",
        [session.item_set_version, item.item_id, session.participant_id, REAL, "rating page", item.dataset, item.condition,
         item.trace_set_version, values["interpretability"], values["cognitive_load"], comment, _now()],
    )  # fmt: skip
    (done,) = con.execute(
        "SELECT count(*) FROM ratings WHERE item_set_version = ? AND participant_id = ? AND panel = ?",
        [session.item_set_version, session.participant_id, REAL],
    ).fetchone()
    if done >= len(session.item_order):
        con.execute(
            "UPDATE rating_sessions SET completed_at = ? WHERE item_set_version = ? AND participant_id = ?",
            [_now(), session.item_set_version, session.participant_id],
        )
    return True


def replace_panel(store: Store, item_set_version: str, panel: str, source: str, rows: Sequence[Mapping[str, Any]]) -> int:
    """Swap in one source's ratings of an item set (a simulated panel, or one imported file), in
    one transaction; a rating page's ratings are never touched by it."""
    if panel not in PANELS:
        raise ValueError(f"panel must be one of {', '.join(PANELS)}; got {panel!r}")
    if source == "rating page":
        raise ValueError("the rating page's ratings are only written by the page")
    stamped = [{**row, "item_set_version": item_set_version, "panel": panel, "source": source,
                "submitted_at": row.get("submitted_at") or _now()} for row in rows]  # fmt: skip
    return store.replace_partition("ratings", {"item_set_version": item_set_version, "panel": panel, "source": source}, stamped)


def ratings_of(store: Store, item_set_version: str, panel: str | None = None) -> list[dict[str, Any]]:
    sql = "SELECT * FROM ratings WHERE item_set_version = ?" + (" AND panel = ?" if panel else "")
    return store.rows(sql + " ORDER BY participant_id, item_id", [item_set_version] + ([panel] if panel else []))


def real_ratings_mark(store: Store) -> str:
    """What changes whenever people's ratings do (a rating arrives, an import replaces some): their
    count and newest submission, as one string a sensor keeps as its cursor."""
    row = store.rows("SELECT count(*) AS n, max(submitted_at) AS newest FROM ratings WHERE panel = ?", [REAL])[0]
    return f"{row['n']}@{row['newest'].isoformat() if row['newest'] else '-'}"
