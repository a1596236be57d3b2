"""Refuses a write while the previous authority's replication of that Tarea is pending."""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.domain.errors import StoreUnavailableError
from core.domain.models.migration_stage import Store
from core.domain.models.replication import EventStatus
from infrastructure.sqlalchemy.engine import translate_sql_errors
from infrastructure.sqlalchemy.schema import outbox


class WriteFence:
    """After the authoritative store changes (``shadow`` <-> ``mongo_primary``), a Tarea
    may still have replication events *into* the new authority that the old one
    recorded: writing it now would start from a stale version and fork its history.
    Such a write is refused as temporarily unavailable (HTTP 503 + Retry-After) until
    those events are applied. One indexed query per write (``ix_outbox_tarea``).
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def check(self, tarea_id: UUID, authority: Store) -> None:
        query = (
            sa.select(outbox.c.id)
            .where(
                outbox.c.tarea_id == str(tarea_id),
                outbox.c.status == EventStatus.PENDING.value,
                outbox.c.target == authority.value,
            )
            .limit(1)
        )
        with translate_sql_errors(), self._engine.connect() as conn:
            pending = conn.execute(query).first()
        if pending is not None:
            raise StoreUnavailableError(
                authority.value,
                f"Tarea {tarea_id} is still being replicated here after a stage change; retry",
            )
