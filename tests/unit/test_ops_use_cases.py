"""Unit tests of the operator use cases against in-memory fakes of their ports."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from uuid import uuid4

import pytest

from core.application.backfill import BackfillUseCase
from core.application.consultar_eventos import ListarEventosUseCase, dead_event_ids
from core.application.estado_replicacion import EstadoReplicacionUseCase
from core.application.purgar_eventos import PurgarEventosUseCase, PurgarEventoUseCase
from core.application.reconciliar import ReconciliarUseCase, chunk_ranges, compare_rows
from core.domain.errors import StoreUnavailableError
from core.domain.models.operations import (
    ConfirmationRequiredError,
    EventQuery,
    EventState,
    EventStateError,
    InvalidQueryError,
    OutboxEvent,
    OutboxStats,
    WorkerHealth,
)
from core.domain.models.reconciliation import DriftKind, IdRange, RowDigest
from core.domain.models.replication import EventStatus, Operation, ReplicationEvent
from core.domain.models.tarea import Tarea, utc_now
from core.domain.ports.operations import OutboxQueries, WorkerProbe
from tests.support.fakes import InMemoryOutbox, InMemoryReplica, InMemoryTareaRepository, RecordingPublisher
from tests.support.ops_fakes import (
    InMemoryCheckpoints,
    InMemoryQueries,
    InMemoryRuns,
    InMemoryScanner,
    InMemoryWriter,
)


def outbox_event(event_id: int, status: EventStatus = EventStatus.DEAD, error_type: str = "E") -> OutboxEvent:
    now = utc_now()
    return OutboxEvent(
        event_id, Operation.UPSERT, uuid4(), 1, status, 1, error_type, "boom", now, now, now, None
    )


# -- EventQuery ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"state": {"$ne": "dead"}}, "status"),
        ({"state": "$ne"}, "status"),
        ({"operation": ["upsert"]}, "operation"),
        ({"error_type": {"$gt": ""}}, "error_type"),
        ({"error_type": "$where"}, "error_type"),
        ({"error_type": "a b"}, "error_type"),
        ({"older_than_seconds": -1}, "older_than_seconds"),
        ({"older_than_seconds": "60"}, "older_than_seconds"),
        ({"older_than_seconds": True}, "older_than_seconds"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"limit": True}, "limit"),
        ({"cursor": -1}, "cursor"),
        ({"cursor": "5"}, "cursor"),
    ],
)
def test_event_query_refuses_operators_and_out_of_range_values(fields, field):
    with pytest.raises(InvalidQueryError) as raised:
        EventQuery(**fields)
    assert raised.value.field == field


def test_event_query_converts_plain_strings():
    query = EventQuery(state="retrying", operation="delete", error_type="pymongo.errors.AutoReconnect")  # type: ignore[arg-type]
    assert query.state is EventState.RETRYING and query.operation is Operation.DELETE


def test_a_full_page_of_the_largest_size_peeks_one_ahead_for_the_cursor():
    queries = InMemoryQueries([outbox_event(i) for i in range(1, 503)])

    page = ListarEventosUseCase(queries).execute(EventQuery(limit=500))

    assert len(page.items) == 500 and page.next_cursor == 500
    assert queries.searches == [501]
    last = ListarEventosUseCase(queries).execute(EventQuery(limit=500, cursor=500))
    assert [e.event_id for e in last.items] == [501, 502] and last.next_cursor is None


def test_bulk_actions_only_take_dead_letters():
    queries = InMemoryQueries([outbox_event(1), outbox_event(2, EventStatus.PENDING), outbox_event(3)])
    with pytest.raises(InvalidQueryError):
        dead_event_ids(queries, EventQuery(state=EventState.PENDING), utc_now())
    assert dead_event_ids(queries, EventQuery(), utc_now()) == [1, 3]


def test_purge_needs_confirmation_and_refuses_pending_events():
    queries = InMemoryQueries([outbox_event(1), outbox_event(2, EventStatus.PENDING)])
    with pytest.raises(ConfirmationRequiredError):
        PurgarEventosUseCase(queries).execute(EventQuery(), confirm=False)
    with pytest.raises(EventStateError):
        PurgarEventoUseCase(queries).execute(2, confirm=True)
    assert PurgarEventosUseCase(queries).execute(EventQuery(), confirm=True) == [1]
    assert list(queries.events) == [2]


# -- status ------------------------------------------------------------------------------
class FixedStats(OutboxQueries):
    def __init__(self, stats: OutboxStats) -> None:
        self._stats = stats

    def stats(self) -> OutboxStats:
        return self._stats

    def search(self, query, now, limit):
        return []

    def detail(self, event_id):
        return None

    def delete_dead(self, event_ids):
        return []

    def tareas_with_pending_events(self, tarea_ids):
        return set()


class DownRepository(InMemoryTareaRepository):
    def count(self, *, estado=None) -> int:
        raise StoreUnavailableError("mongo", "connection refused")


class SilentWorkers(WorkerProbe):
    def ping(self) -> WorkerHealth:
        return WorkerHealth(False, 0, "no answer")


def test_status_measures_lag_from_the_oldest_pending_event_and_survives_a_down_store():
    now = utc_now()
    stats = OutboxStats(1, 2, 3, 4, oldest_pending_at=now - timedelta(seconds=42), last_applied_at=now)
    sql = InMemoryTareaRepository()
    sql.save(Tarea.crear("uno"))

    status = EstadoReplicacionUseCase(
        FixedStats(stats), {"sql": sql, "mongo": DownRepository()}, SilentWorkers(), clock=lambda: now
    ).execute()

    assert status.lag_seconds == 42 and status.outbox.pending == 6
    assert [(c.store, c.tareas, c.error) for c in status.stores] == [
        ("sql", 1, None),
        ("mongo", None, "connection refused"),
    ]
    assert status.workers.reachable is False


# -- reconcile -----------------------------------------------------------------------------
def test_chunk_ranges_cover_the_whole_id_space():
    assert chunk_ranges([]) == [IdRange(None, None)]
    assert chunk_ranges(["b", "d"]) == [IdRange(None, "b"), IdRange("b", "d"), IdRange("d", None)]


def test_compare_rows_names_each_kind_of_drift():
    sql = [RowDigest("a", 1, "x"), RowDigest("b", 2, "y"), RowDigest("c", 1, "z")]
    mongo = [RowDigest("b", 2, "other"), RowDigest("c", 1, "z"), RowDigest("d", 3, "w")]

    drift = compare_rows(sql, mongo)

    assert [(d.tarea_id, d.kind, d.sql_version, d.mongo_version) for d in drift] == [
        ("a", DriftKind.MISSING, 1, None),
        ("b", DriftKind.STALE, 2, 2),
        ("d", DriftKind.EXTRA, None, 3),
    ]


def reconcile_parts(
    sql_tareas: list[Tarea], mongo_tareas: list[Tarea], pending: tuple[str, ...] | set[str] = ()
) -> tuple[ReconciliarUseCase, InMemoryOutbox, InMemoryWriter, InMemoryScanner, RecordingPublisher]:
    outbox = InMemoryOutbox()
    writer = InMemoryWriter(outbox)
    for t in sql_tareas:
        writer.save(t)
    source, replica = InMemoryScanner(sql_tareas), InMemoryScanner(mongo_tareas)
    publisher = RecordingPublisher()
    use_case = ReconciliarUseCase(
        source=source,
        replica=replica,
        authoritative=writer,
        writer=writer,
        outbox=outbox,
        publisher=publisher,
        queries=InMemoryQueries(pending_tareas=pending),
        runs=InMemoryRuns(),
    )
    return use_case, outbox, writer, replica, publisher


def test_repair_bumps_the_sql_version_only_when_the_replica_is_ahead():
    same, ahead = Tarea.crear("same version"), Tarea.crear("replica ahead")
    tampered = dataclasses.replace(same, titulo="tampered")
    raised = dataclasses.replace(ahead, version=4)
    use_case, outbox, writer, _, publisher = reconcile_parts([same, ahead], [tampered, raised])

    report = use_case.execute(chunk_size=10, repair=True)

    assert {(d.tarea_id, d.sql_version, d.mongo_version) for d in report.drift} == {
        (str(same.id), 1, 1),
        (str(ahead.id), 1, 4),
    }
    # Same version: the replica accepts an equal-version event, so SQL stays as it is.
    assert writer.get(same.id) == same
    # Replica ahead: content unchanged, version moved past the replica's.
    assert writer.get(ahead.id) == dataclasses.replace(ahead, version=5)
    events = {e.tarea_id: e for e in outbox.load(publisher.published_ids)}
    assert (events[same.id].version, events[same.id].tarea) == (1, same)
    assert (events[ahead.id].version, events[ahead.id].tarea) == (5, writer.get(ahead.id))


def test_repair_upserts_missing_rows_and_deletes_extra_documents_past_their_version():
    missing, extra = Tarea.crear("in sql"), dataclasses.replace(Tarea.crear("in mongo"), version=4)
    use_case, outbox, _, _, publisher = reconcile_parts([missing], [extra])

    report = use_case.execute(chunk_size=1, repair=True)

    assert {(d.tarea_id, d.kind) for d in report.drift} == {
        (str(missing.id), DriftKind.MISSING),
        (str(extra.id), DriftKind.EXTRA),
    }
    events = {e.tarea_id: e for e in outbox.load(publisher.published_ids)}
    assert (events[missing.id].operation, events[missing.id].version) == (Operation.UPSERT, 1)
    assert (events[extra.id].operation, events[extra.id].version) == (Operation.DELETE, 5)
    assert report.repair_events == 2


def test_repair_leaves_events_to_the_relay_when_the_queue_is_down():
    use_case, outbox, _, _, publisher = reconcile_parts([Tarea.crear("in sql")], [])
    publisher.fail_with = ConnectionError("broker down")

    report = use_case.execute(repair=True)

    assert report.repair_events == 1
    assert outbox.claim_for_dispatch(10) != []  # released: the relay will send it


def test_tareas_with_pending_events_are_in_flight_not_drift():
    tarea = Tarea.crear("on its way")
    use_case, *_ = reconcile_parts([tarea], [], pending={str(tarea.id)})

    report = use_case.execute()

    assert report.drift == [] and report.in_flight == [str(tarea.id)]


def test_chunk_size_is_validated():
    use_case, *_ = reconcile_parts([], [])
    for bad in (0, 100_001, True):
        with pytest.raises(InvalidQueryError):
            use_case.execute(chunk_size=bad)


# -- backfill --------------------------------------------------------------------------------
def test_backfill_resumes_after_its_checkpoint_and_never_overwrites_newer_versions():
    rows = [Tarea.crear(f"t{n}") for n in range(10)]
    source, replica, checkpoints = InMemoryScanner(rows), InMemoryReplica(), InMemoryCheckpoints()
    newer = rows[7].actualizar(titulo="live")
    replica.apply([ReplicationEvent.upsert(newer)])
    backfill = BackfillUseCase(source, replica, checkpoints)

    first = backfill.execute(batch_size=4, max_batches=1)
    rest = backfill.execute(batch_size=4)

    assert (first.copied, rest.copied, rest.total_copied) == (4, 6, 10)
    assert rest.resumed_from == sorted(str(t.id) for t in rows)[3]
    assert rest.skipped + first.skipped == 1
    assert replica.tareas[newer.id] == newer
    assert checkpoints.saved["tareas"].finished
    assert backfill.execute(batch_size=4, restart=True).copied == 10


def test_backfill_batch_size_is_validated():
    backfill = BackfillUseCase(InMemoryScanner(), InMemoryReplica(), InMemoryCheckpoints())
    with pytest.raises(InvalidQueryError):
        backfill.execute(batch_size=0)
