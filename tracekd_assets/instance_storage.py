"""The cluster profile's Dagster event log storage: dagster-postgres's, with pool slots claimed
atomically.

Why: dagster-postgres (0.29.27) claims a pool slot with `SELECT ... FOR UPDATE SKIP LOCKED`
followed by an `UPDATE`, on a connection in autocommit mode, so the row lock ends with the SELECT.
Two steps claiming at once can both pick the same free slot and both be told CLAIMED: seen in CI
as two `duckdb`-pool steps of concurrent runs overlapping under a limit of 1, and reproduced in
tests/assets/test_cluster_profile.py (8 claimers at once got 2 or more claims in about half of 20
tries). Here the SELECT and the UPDATE share one transaction and the UPDATE only takes a slot
that is still free, so at most `limit` steps hold a pool at once. The cluster profile's instance
(tracekd_assets/instance.yaml) names this class; everything else is dagster-postgres's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as db
from dagster._core.storage.event_log.schema import ConcurrencySlotsTable
from dagster._utils.concurrency import ConcurrencySlotStatus
from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.utils import get_token_provider_from_config, pg_url_from_config


class AtomicSlotPostgresEventLogStorage(PostgresEventLogStorage):
    """dagster-postgres's event log storage whose pool slot claims cannot double-book a slot."""

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: Mapping[str, Any]) -> AtomicSlotPostgresEventLogStorage:
        # the parent builds its own class by name, so the subclass has to say it again
        return cls(
            inst_data=inst_data,
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            token_provider=get_token_provider_from_config(config_value),
        )

    def _claim_concurrency_slot(self, concurrency_key: str, run_id: str, step_key: str) -> ConcurrencySlotStatus:
        slots = ConcurrencySlotsTable.c
        free = db.and_(slots.concurrency_key == concurrency_key, slots.step_key == None, slots.deleted == False)  # noqa: E711, E712
        with self.index_transaction() as conn:  # the row lock lasts until the UPDATE commits
            row = conn.execute(db.select(slots.id).where(free).with_for_update(skip_locked=True).limit(1)).fetchone()
            if row is None:
                return ConcurrencySlotStatus.BLOCKED
            taken = conn.execute(ConcurrencySlotsTable.update().values(run_id=run_id, step_key=step_key).where(db.and_(slots.id == row[0], free)))
            return ConcurrencySlotStatus.CLAIMED if taken.rowcount else ConcurrencySlotStatus.BLOCKED
