"""The one Tarea <-> record mapping shared by the SQL and MongoDB adapters.

A record is a plain dict with the column/field names below. SQL uses it as a row;
MongoDB stores the same dict with ``id`` renamed to ``_id``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from core.domain.models.tarea import EstadoTarea, Tarea

FIELDS = ("id", "titulo", "descripcion", "estado", "created_at", "updated_at", "version")


def as_utc(value: datetime) -> datetime:
    """Mark a naive datetime as UTC."""
    # SQLite hands back naive datetimes; every stored datetime is UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def tarea_to_record(tarea: Tarea) -> dict[str, Any]:
    """Flatten a Tarea into storable primitives."""
    return {
        "id": str(tarea.id),
        "titulo": tarea.titulo,
        "descripcion": tarea.descripcion,
        "estado": tarea.estado.value,
        "created_at": tarea.created_at,
        "updated_at": tarea.updated_at,
        "version": tarea.version,
    }


def tarea_from_record(record: Mapping[Any, Any]) -> Tarea:
    """Rebuild a Tarea from a record produced by :func:`tarea_to_record`."""
    return Tarea(
        id=UUID(str(record["id"])),
        titulo=record["titulo"],
        descripcion=record["descripcion"],
        estado=EstadoTarea(record["estado"]),
        created_at=as_utc(record["created_at"]),
        updated_at=as_utc(record["updated_at"]),
        version=int(record["version"]),
    )


def tarea_to_document(tarea: Tarea) -> dict[str, Any]:
    """The MongoDB document of a Tarea."""
    record = tarea_to_record(tarea)
    record["_id"] = record.pop("id")
    return record


def tarea_from_document(document: Mapping[Any, Any]) -> Tarea:
    """Rebuild a Tarea from its MongoDB document."""
    record = dict(document)
    record["id"] = record.pop("_id")
    return tarea_from_record(record)


def tarea_to_payload(tarea: Tarea) -> dict[str, Any]:
    """A JSON-safe record, for outbox payloads and hashes."""
    record = tarea_to_record(tarea)
    record["created_at"] = tarea.created_at.isoformat()
    record["updated_at"] = tarea.updated_at.isoformat()
    return record


def tarea_from_payload(payload: Mapping[Any, Any]) -> Tarea:
    """Inverse of :func:`tarea_to_payload`."""
    record = dict(payload)
    record["created_at"] = datetime.fromisoformat(record["created_at"])
    record["updated_at"] = datetime.fromisoformat(record["updated_at"])
    return tarea_from_record(record)
