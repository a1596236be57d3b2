"""The shared Tarea <-> record / document / payload mapping."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from core.domain.models.tarea import EstadoTarea, Tarea
from infrastructure.mapping.tarea_mapping import (
    FIELDS,
    as_utc,
    tarea_from_document,
    tarea_from_payload,
    tarea_from_record,
    tarea_to_document,
    tarea_to_payload,
    tarea_to_record,
)


def _tarea() -> Tarea:
    return Tarea.crear("Mapear", "con acentos: camión ñ", EstadoTarea.EN_PROGRESO).actualizar(titulo="Otro")


def test_record_round_trip_and_primitive_values() -> None:
    tarea = _tarea()
    record = tarea_to_record(tarea)

    assert tuple(record) == FIELDS
    assert record["id"] == str(tarea.id)
    assert record["estado"] == "en_progreso"
    assert record["version"] == 2
    assert tarea_from_record(record) == tarea


def test_record_with_naive_datetimes_is_read_as_utc() -> None:
    # SQLite returns naive datetimes.
    tarea = _tarea()
    record = tarea_to_record(tarea)
    record["created_at"] = tarea.created_at.replace(tzinfo=None)
    record["updated_at"] = tarea.updated_at.replace(tzinfo=None)

    rebuilt = tarea_from_record(record)

    assert rebuilt == tarea
    assert rebuilt.created_at.tzinfo is not None


def test_document_uses_underscore_id_and_round_trips() -> None:
    tarea = _tarea()
    document = tarea_to_document(tarea)

    assert document["_id"] == str(tarea.id)
    assert "id" not in document
    assert set(document) == {"_id", *FIELDS} - {"id"}
    assert tarea_from_document(document) == tarea


def test_payload_is_json_safe_and_round_trips_through_json() -> None:
    tarea = _tarea()
    payload = tarea_to_payload(tarea)

    assert payload["created_at"] == tarea.created_at.isoformat()
    assert tarea_from_payload(json.loads(json.dumps(payload))) == tarea


def test_as_utc_keeps_aware_datetimes_and_marks_naive_ones() -> None:
    aware = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert as_utc(aware) is aware
    assert as_utc(datetime(2024, 5, 1, 12, 0)) == aware
