"""SQL side of reconciliation and backfill: Tareas read in id order, by range or page."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.domain.models.reconciliation import ChunkChecksum, IdRange, RowDigest
from core.domain.models.tarea import Tarea
from core.domain.ports.reconciliation import TareaPager, TareaScanner
from infrastructure.mapping.tarea_digest import chunked_checksums, row_digest
from infrastructure.mapping.tarea_mapping import tarea_from_record
from infrastructure.sqlalchemy.engine import translate_sql_errors
from infrastructure.sqlalchemy.schema import tareas

IN_LIST_SIZE = 1000


def _in_range(query: sa.Select[Any], id_range: IdRange) -> sa.Select[Any]:
    if id_range.lower is not None:
        query = query.where(tareas.c.id >= id_range.lower)
    if id_range.upper is not None:
        query = query.where(tareas.c.id < id_range.upper)
    return query


class SqlTareaScanner(TareaScanner, TareaPager):
    """Scans the ``tareas`` table. Ids compare byte-wise (the column's "C" collation on
    PostgreSQL, BINARY on SQLite), the same order MongoDB uses for ``_id`` strings."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def chunk_bounds(self, chunk_size: int) -> list[str]:
        numbered = sa.select(
            tareas.c.id, sa.func.row_number().over(order_by=tareas.c.id).label("position")
        ).subquery()
        query = (
            sa.select(numbered.c.id)
            .where(numbered.c.position > 1, (numbered.c.position - 1) % chunk_size == 0)
            .order_by(numbered.c.id)
        )
        with translate_sql_errors(), self._engine.connect() as conn:
            return [str(i) for i in conn.execute(query).scalars()]

    def checksums(self, bounds: Sequence[str]) -> Iterator[ChunkChecksum]:
        # One SELECT: on PostgreSQL a single statement reads one consistent snapshot.
        with translate_sql_errors(), self._engine.connect() as conn:
            yield from chunked_checksums(self._stream(conn, IdRange(None, None)), bounds)

    def digests(self, id_range: IdRange) -> list[RowDigest]:
        with translate_sql_errors(), self._engine.connect() as conn:
            return [row_digest(tarea) for tarea in self._stream(conn, id_range)]

    def digests_of(self, tarea_ids: Collection[str]) -> dict[str, RowDigest]:
        found: dict[str, RowDigest] = {}
        ids = sorted(tarea_ids)
        with translate_sql_errors(), self._engine.connect() as conn:
            for start in range(0, len(ids), IN_LIST_SIZE):
                rows = conn.execute(
                    sa.select(tareas).where(tareas.c.id.in_(ids[start : start + IN_LIST_SIZE]))
                ).mappings()
                for row in rows:
                    digest = row_digest(tarea_from_record(row))
                    found[digest.tarea_id] = digest
        return found

    def stored_versions(self, tarea_ids: Collection[str]) -> dict[str, int]:
        versions: dict[str, int] = {}
        ids = sorted(tarea_ids)
        with translate_sql_errors(), self._engine.connect() as conn:
            for start in range(0, len(ids), IN_LIST_SIZE):
                query = sa.select(tareas.c.id, tareas.c.version).where(
                    tareas.c.id.in_(ids[start : start + IN_LIST_SIZE])
                )
                versions.update({str(i): int(v) for i, v in conn.execute(query)})
        return versions

    def page_after(self, last_id: str | None, limit: int) -> list[Tarea]:
        query = sa.select(tareas).order_by(tareas.c.id).limit(limit)
        if last_id is not None:
            query = query.where(tareas.c.id > last_id)
        with translate_sql_errors(), self._engine.connect() as conn:
            return [tarea_from_record(row) for row in conn.execute(query).mappings()]

    def count_after(self, last_id: str | None) -> int:
        query = sa.select(sa.func.count()).select_from(tareas)
        if last_id is not None:
            query = query.where(tareas.c.id > last_id)
        with translate_sql_errors(), self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    @staticmethod
    def _stream(conn: sa.Connection, id_range: IdRange) -> Iterator[Tarea]:
        query = _in_range(sa.select(tareas), id_range).order_by(tareas.c.id)
        for row in conn.execution_options(yield_per=1000).execute(query).mappings():
            yield tarea_from_record(row)
