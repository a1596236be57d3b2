"""The design doc's code runs as written: its "Ejemplo Completo" and its manual-injection
snippet, copied verbatim below (a test checks the copies still match the doc)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from uuid import UUID

import pytest
import sqlalchemy as sa

from core.domain.models.replication import EventStatus
from core.domain.models.tarea import Tarea
from infrastructure.mongo.embedded_server import stop_embedded_server
from infrastructure.mongo.repository.tarea_repository import MongoTareaRepository
from infrastructure.settings import Settings
from infrastructure.sqlalchemy.engine import create_sql_engine
from infrastructure.sqlalchemy.repository.tarea_repository import SqlAlchemyTareaRepository
from infrastructure.sqlalchemy.schema import outbox
from tests.support.services import REPO_ROOT, CeleryWorker, MongoServer, wait_for

pytestmark = pytest.mark.integration

DESIGN_DOC = REPO_ROOT / "infrastructure" / "dual" / "README.md"

EJEMPLO_COMPLETO = """\
# 1. Configurar variable de entorno
import os

os.environ["ORM"] = "dual"

# 2. Obtener el caso de uso (automáticamente usará DualTareaRepository)
from infrastructure.container import get_crear_tarea_use_case
from core.application.crear_tarea import CrearTareaCommand
from core.domain.models.tarea import EstadoTarea

use_case = get_crear_tarea_use_case()

# 3. Ejecutar operación - se escribirá en AMBAS bases de datos
cmd = CrearTareaCommand(
    titulo="Tarea de prueba",
    descripcion="Esta tarea se guardará en SQLite Y MongoDB",
    estado=EstadoTarea.PENDIENTE,
)

tarea = use_case.execute(cmd)
print(f"Tarea {tarea.id} creada en ambas bases de datos")
"""

INYECCION_MANUAL = """\
from infrastructure.dual.repository.tarea_repository import DualTareaRepository
from infrastructure.sqlalchemy.repository.tarea_repository import SqlAlchemyTareaRepository
from infrastructure.mongo.repository.tarea_repository import MongoTareaRepository

# Repositorios personalizados
sql_repo = SqlAlchemyTareaRepository()
mongo_repo = MongoTareaRepository()

# Inyección manual
dual_repo = DualTareaRepository(sql_repository=sql_repo, mongo_repository=mongo_repo)
"""

CREATED = re.compile(r"^Tarea ([0-9a-f-]{36}) creada en ambas bases de datos$", re.MULTILINE)


def _python_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.DOTALL)


def test_the_copies_are_the_design_docs_code_blocks() -> None:
    blocks = _python_blocks(DESIGN_DOC.read_text(encoding="utf-8"))
    assert EJEMPLO_COMPLETO in blocks
    assert INYECCION_MANUAL in blocks


# -- helpers ------------------------------------------------------------------------------
@pytest.fixture
def example_env(tmp_path: Path, mongo_server: MongoServer, mongo_db_name: str) -> dict[str, str]:
    """A fresh deployment: SQLite in a private data directory, the test Mongo server."""
    env = {k: v for k, v in os.environ.items() if k not in ("ORM", "DATABASE_URL", "BROKER_URL")}
    env.update(
        {
            "DUALWRITE_DATA_DIR": str(tmp_path / "data"),
            "MONGO_URL": mongo_server.url,
            "DUALWRITE_MONGO_DB": mongo_db_name,
            "DUALWRITE_LOG_LEVEL": "WARNING",
        }
    )
    return env


@pytest.fixture
def mongo_view(mongo_repo: MongoTareaRepository) -> MongoTareaRepository:
    """The test server's database the examples write to (dropped after the test)."""
    return mongo_repo


def _sql_view(data_dir: Path) -> tuple[SqlAlchemyTareaRepository, sa.Engine]:
    engine = create_sql_engine(f"sqlite:///{data_dir / 'dualwrite.db'}")
    return SqlAlchemyTareaRepository(engine), engine


def _run_ejemplo(env: dict[str, str]) -> UUID:
    result = subprocess.run(
        [sys.executable, "-c", EJEMPLO_COMPLETO],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    match = CREATED.search(result.stdout)
    assert match is not None, result.stdout
    return UUID(match.group(1))


def _outbox_statuses(engine: sa.Engine, tarea_id: UUID) -> list[str]:
    with engine.connect() as conn:
        query = sa.select(outbox.c.status).where(outbox.c.tarea_id == str(tarea_id))
        return list(conn.execute(query).scalars())


# -- Ejemplo Completo ---------------------------------------------------------------------
def test_ejemplo_completo_in_threadpool_mode_writes_both_stores_at_once(
    example_env: dict[str, str], mongo_view: MongoTareaRepository
) -> None:
    example_env["DUALWRITE_DUAL_WRITE_MODE"] = "threadpool"

    tarea_id = _run_ejemplo(example_env)

    sql_view, engine = _sql_view(Path(example_env["DUALWRITE_DATA_DIR"]))
    try:
        in_sql = sql_view.get(tarea_id)
        assert in_sql is not None
        assert in_sql.titulo == "Tarea de prueba"
        assert in_sql.descripcion == "Esta tarea se guardará en SQLite Y MongoDB"
        assert mongo_view.get(tarea_id) == in_sql
        assert _outbox_statuses(engine, tarea_id) == []
    finally:
        engine.dispose()


def test_ejemplo_completo_in_the_default_queued_mode_replicates_through_a_worker(
    example_env: dict[str, str], mongo_view: MongoTareaRepository, tmp_path: Path
) -> None:
    tarea_id = _run_ejemplo(example_env)

    sql_view, engine = _sql_view(Path(example_env["DUALWRITE_DATA_DIR"]))
    try:
        in_sql = sql_view.get(tarea_id)
        assert in_sql is not None and in_sql.titulo == "Tarea de prueba"
        assert _outbox_statuses(engine, tarea_id) == [EventStatus.PENDING.value]
        assert mongo_view.get(tarea_id) is None  # nothing has consumed the queue yet

        worker = CeleryWorker({**example_env, "ORM": "dual"}, tmp_path / "worker.log", concurrency=1)
        worker.start()
        try:
            wait_for(lambda: mongo_view.get(tarea_id) is not None, 60, 0.2, "the worker to replicate")
        finally:
            worker.stop()

        assert mongo_view.get(tarea_id) == in_sql
        assert _outbox_statuses(engine, tarea_id) == [EventStatus.DONE.value]
    finally:
        engine.dispose()


# -- manual injection ---------------------------------------------------------------------
def _run_injection_and_save() -> tuple[Tarea, dict[str, object]]:
    namespace: dict[str, object] = {}
    exec(INYECCION_MANUAL, namespace)
    dual_repo = namespace["dual_repo"]
    tarea = dual_repo.save(Tarea.crear("Inyectada a mano"))  # type: ignore[attr-defined]
    return tarea, namespace


def _close(namespace: dict[str, object]) -> None:
    namespace["mongo_repo"]._client.close()  # type: ignore[attr-defined]
    namespace["sql_repo"].engine.dispose()  # type: ignore[attr-defined]


def test_manual_injection_reads_the_environment_and_writes_both_stores(
    monkeypatch: pytest.MonkeyPatch,
    example_env: dict[str, str],
    mongo_view: MongoTareaRepository,
) -> None:
    for name in ("DUALWRITE_DATA_DIR", "MONGO_URL", "DUALWRITE_MONGO_DB"):
        monkeypatch.setenv(name, example_env[name])

    tarea, namespace = _run_injection_and_save()
    try:
        sql_view, engine = _sql_view(Path(example_env["DUALWRITE_DATA_DIR"]))
        assert sql_view.get(tarea.id) == tarea
        assert mongo_view.get(tarea.id) == tarea
        assert namespace["dual_repo"].get(tarea.id) == tarea  # type: ignore[attr-defined]
        engine.dispose()
    finally:
        _close(namespace)


def test_manual_injection_without_mongo_url_uses_the_embedded_server(tmp_path: Path) -> None:
    """The zero-configuration path: no MONGO_URL, so the data directory's own server."""
    settings = Settings()
    assert settings.mongo_url is None
    try:
        tarea, namespace = _run_injection_and_save()
        try:
            mongo_repo = namespace["mongo_repo"]
            assert isinstance(mongo_repo, MongoTareaRepository)
            assert mongo_repo.get(tarea.id) == tarea
            sql_view, engine = _sql_view(settings.data_dir)
            assert sql_view.get(tarea.id) == tarea
            engine.dispose()
        finally:
            _close(namespace)
    finally:
        stop_embedded_server(settings.mongo_data_dir())
