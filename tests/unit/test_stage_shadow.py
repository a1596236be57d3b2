"""Shadow reads: the comparator, outcome classification, sampling and the bounded pool."""

from __future__ import annotations

import dataclasses
import threading
from datetime import timedelta

from core.application.shadow_read import CompararLecturaSombraUseCase
from core.domain.errors import StoreUnavailableError
from core.domain.models.shadow_read import ShadowMismatch, ShadowResult
from core.domain.models.tarea import Tarea
from core.domain.ports.shadow_read import ShadowRecorder
from infrastructure.migration.shadow import PayloadComparator, ShadowReader
from tests.support.fakes import InMemoryTareaRepository


class ListRecorder(ShadowRecorder):
    def __init__(self) -> None:
        self.results: list[ShadowResult] = []
        self.kept: list[ShadowMismatch] = []

    def count(self, result: ShadowResult) -> None:
        self.results.append(result)

    def keep(self, mismatch: ShadowMismatch) -> None:
        self.kept.append(mismatch)

    def recent(self, limit: int = 50) -> list[ShadowMismatch]:
        return self.kept[-limit:]


class BrokenRepository(InMemoryTareaRepository):
    def get(self, tarea_id):
        raise StoreUnavailableError("mongo", "connection refused")


def compare(replica_state: Tarea | None, authoritative: Tarea | None, repo=None):
    replica = repo or InMemoryTareaRepository()
    if replica_state is not None:
        replica.save(replica_state)
    recorder = ListRecorder()
    key = (authoritative or replica_state).id  # type: ignore[union-attr]
    outcome = CompararLecturaSombraUseCase(replica, PayloadComparator(), recorder).execute(key, authoritative)
    return outcome, recorder


def test_equal_tareas_match_even_when_a_store_keeps_microseconds() -> None:
    tarea = Tarea.crear("igual")
    precise = dataclasses.replace(tarea, updated_at=tarea.updated_at + timedelta(microseconds=417))
    outcome, recorder = compare(precise, tarea)
    assert outcome.result is ShadowResult.MATCH and recorder.kept == []


def test_a_changed_field_at_the_same_version_is_a_mismatch_with_a_sample() -> None:
    tarea = Tarea.crear("original", "texto")
    altered = dataclasses.replace(tarea, titulo="alterado")
    outcome, recorder = compare(altered, tarea)
    assert outcome.result is ShadowResult.MISMATCH
    (sample,) = recorder.kept
    assert sample.tarea_id == tarea.id
    assert [(d.field, d.authoritative, d.replica) for d in sample.differences] == [
        ("titulo", "original", "alterado")
    ]


def test_a_replica_ahead_of_the_authoritative_store_is_a_mismatch() -> None:
    tarea = Tarea.crear("uno")
    outcome, _ = compare(tarea.actualizar(titulo="dos"), tarea)
    assert outcome.result is ShadowResult.MISMATCH
    assert {d.field for d in outcome.differences} >= {"version", "titulo"}


def test_replication_lag_is_stale_not_a_mismatch() -> None:
    tarea = Tarea.crear("uno")
    newer = tarea.actualizar(titulo="dos")
    assert compare(tarea, newer)[0].result is ShadowResult.STALE  # older version
    assert compare(None, newer)[0].result is ShadowResult.STALE  # create not applied yet
    assert compare(tarea, None)[0].result is ShadowResult.STALE  # delete not applied yet


def test_a_failing_replica_counts_as_error_and_never_raises() -> None:
    tarea = Tarea.crear("uno")
    outcome, recorder = compare(None, tarea, repo=BrokenRepository())
    assert outcome.result is ShadowResult.ERROR and recorder.results == [ShadowResult.ERROR]


def test_sampling_and_dropping_when_the_pool_is_saturated() -> None:
    release = threading.Event()
    started = threading.Event()

    class SlowRepository(InMemoryTareaRepository):
        def get(self, tarea_id):
            started.set()
            release.wait(5)
            return None

    recorder = ListRecorder()
    use_case = CompararLecturaSombraUseCase(SlowRepository(), PayloadComparator(), recorder)
    tarea = Tarea.crear("uno")
    never = ShadowReader(use_case, sample_rate=0.5, sampler=lambda: 0.7)
    assert never.submit(tarea.id, tarea) is False
    reader = ShadowReader(use_case, sample_rate=1.0, max_workers=1, max_pending=2)
    assert reader.submit(tarea.id, tarea) is True
    assert started.wait(5)
    assert reader.submit(tarea.id, tarea) is True  # queued behind the first
    assert reader.submit(tarea.id, tarea) is False  # full: dropped, the caller is not slowed
    release.set()
    reader.shutdown()
    never.shutdown()
