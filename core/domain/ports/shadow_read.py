"""Ports of shadow reads: the comparator and where mismatch samples are kept."""

from __future__ import annotations

from abc import ABC, abstractmethod

from core.domain.models.shadow_read import FieldDifference, ShadowMismatch, ShadowResult
from core.domain.models.tarea import Tarea


class TareaComparator(ABC):
    """Compares two versions of a Tarea after normalising them the way the stores do."""

    @abstractmethod
    def differences(self, authoritative: Tarea, replica: Tarea) -> tuple[FieldDifference, ...]:
        """The fields whose normalised values differ (empty when equal)."""


class ShadowRecorder(ABC):
    """Counts shadow outcomes and keeps the last mismatch samples for operators."""

    @abstractmethod
    def count(self, result: ShadowResult) -> None:
        """Count one comparison outcome."""

    @abstractmethod
    def keep(self, mismatch: ShadowMismatch) -> None:
        """Keep a mismatch sample (only the most recent ones are retained)."""

    @abstractmethod
    def recent(self, limit: int = 50) -> list[ShadowMismatch]:
        """The most recent mismatch samples, newest first."""
