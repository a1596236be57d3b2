"""Port: read a Tarea from whichever store is authoritative right now."""

from __future__ import annotations

from abc import ABC, abstractmethod
from uuid import UUID

from core.domain.models.tarea import Tarea


class AuthoritativeReader(ABC):
    """Reads that bypass replicas, for read-your-write consistency."""

    @abstractmethod
    def get_authoritative(self, tarea_id: UUID) -> Tarea | None:
        """The Tarea as the authoritative store holds it, or ``None``."""
