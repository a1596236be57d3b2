"""EventPublisher for ``DUALWRITE_PUBLISH_VIA=relay``: the request publishes nothing."""

from __future__ import annotations

from collections.abc import Sequence

from core.domain.ports.replication import EventPublisher


class RelayHandoff(EventPublisher):
    """Leaves committed events to the relay process.

    The SQL repository records them undispatched, and the outbox trigger wakes the
    relay at commit (PostgreSQL; SQLite's relay polls), which claims and publishes them
    in batches. The request's whole replication cost is its outbox row.
    """

    def publish(self, event_ids: Sequence[int]) -> None:
        return None
