"""Port: where the current migration stage and its change history are kept."""

from __future__ import annotations

from abc import ABC, abstractmethod

from core.domain.models.migration_stage import MigrationStage, StageChange


class StageStore(ABC):
    """Durable, shared record of the migration stage.

    Every API process and worker reads it; a change recorded by one process must be
    seen by all others shortly after, without a restart.
    """

    @abstractmethod
    def current(self) -> MigrationStage | None:
        """The stage in force, or ``None`` when no operator has set one yet."""

    @abstractmethod
    def record(self, change: StageChange) -> None:
        """Make ``change.to_stage`` the current stage and keep the change in the history."""

    @abstractmethod
    def history(self, limit: int = 20) -> list[StageChange]:
        """The most recent changes, newest first."""
