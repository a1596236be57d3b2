"""Two in-process (threadpool) updates of the same version, each winning a different
store: the stores must still converge on SQL's (the authoritative) content.

The race is made deterministic by playing the losing writer's MongoDB branch by hand
before the winner's dual write, which is exactly the interleaving that diverged.
"""

from __future__ import annotations

import pytest

from core.application.aplicar_replicacion import AplicarReplicacionUseCase
from core.application.relay_outbox import RelayOutboxUseCase
from core.domain.errors import ConflictoDeVersionError
from core.domain.models.tarea import Tarea
from infrastructure.dual.repository.tarea_repository import DualTareaRepository
from infrastructure.mongo.repository.tarea_repository import MongoTareaRepository
from infrastructure.settings import DualWriteMode
from infrastructure.sqlalchemy.outbox.outbox_store import SqlOutbox
from infrastructure.sqlalchemy.repository.tarea_repository import SqlAlchemyTareaRepository
from tests.support.fakes import RecordingPublisher

pytestmark = pytest.mark.integration


def test_same_version_race_converges_on_the_sql_winner(
    pg_repo: SqlAlchemyTareaRepository, mongo_repo: MongoTareaRepository
) -> None:
    outbox = SqlOutbox(pg_repo.engine)
    dual = DualTareaRepository(
        sql_repository=pg_repo, mongo_repository=mongo_repo, mode=DualWriteMode.THREADPOOL, outbox=outbox
    )
    original = dual.save(Tarea.crear("original"))
    loser = original.actualizar(titulo="loser")
    winner = original.actualizar(titulo="winner")
    assert loser.version == winner.version == 2

    # The loser's MongoDB branch lands first; its SQL branch will be refused.
    mongo_repo.save(loser)
    dual.save(winner)  # SQL accepts the winner; MongoDB refuses it (same version)
    with pytest.raises(ConflictoDeVersionError):
        pg_repo.save(loser)
    assert mongo_repo.get(original.id) == loser  # diverged for now, at the same version

    # The winner's refused MongoDB write was recorded; relaying and applying it converges.
    publisher = RecordingPublisher()
    sent = RelayOutboxUseCase(outbox, publisher).execute(batch_size=100)
    assert sent == 1
    ids = publisher.published_ids
    outcome = AplicarReplicacionUseCase(outbox, mongo_repo).execute(ids)

    assert outcome.applied == 1
    assert mongo_repo.get(original.id) == pg_repo.get(original.id) == winner


def test_replica_still_ignores_older_versions(mongo_repo: MongoTareaRepository) -> None:
    from core.domain.models.replication import ReplicationEvent

    v1 = Tarea.crear("v1")
    v2 = v1.actualizar(titulo="v2")
    mongo_repo.apply([ReplicationEvent.upsert(v2)])
    result = mongo_repo.apply([ReplicationEvent.upsert(v1)])
    assert (result.applied, result.stale) == (0, 1)
    assert mongo_repo.get(v1.id) == v2
