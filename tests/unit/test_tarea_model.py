"""The Tarea aggregate: validation, versioning and timestamps."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from core.domain.errors import TareaInvalidaError
from core.domain.models.tarea import (
    DESCRIPCION_MAX_LENGTH,
    TITULO_MAX_LENGTH,
    EstadoTarea,
    Tarea,
    utc_now,
)


@pytest.mark.parametrize("titulo", ["", "   ", "\t\n", "x" * (TITULO_MAX_LENGTH + 1)])
def test_invalid_titulo_is_refused(titulo: str) -> None:
    with pytest.raises(TareaInvalidaError) as info:
        Tarea.crear(titulo)
    assert info.value.field == "titulo"


def test_titulo_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(TareaInvalidaError) as info:
        Tarea.crear(123)  # type: ignore[arg-type]
    assert info.value.field == "titulo"
    assert info.value.message == "must be a string"


def test_titulo_is_stripped_and_may_be_exactly_the_maximum_length() -> None:
    assert Tarea.crear("  Comprar pan  ").titulo == "Comprar pan"
    longest = "x" * TITULO_MAX_LENGTH
    assert Tarea.crear(f" {longest} ").titulo == longest


def test_over_long_descripcion_is_refused() -> None:
    Tarea.crear("ok", "d" * DESCRIPCION_MAX_LENGTH)
    with pytest.raises(TareaInvalidaError) as info:
        Tarea.crear("ok", "d" * (DESCRIPCION_MAX_LENGTH + 1))
    assert info.value.field == "descripcion"


def test_unknown_estado_is_refused_with_the_allowed_values() -> None:
    with pytest.raises(TareaInvalidaError) as info:
        Tarea(titulo="t", estado="terminada")  # type: ignore[arg-type]
    assert info.value.field == "estado"
    for estado in EstadoTarea:
        assert estado.value in info.value.message


def test_estado_given_as_its_value_becomes_the_enum() -> None:
    tarea = Tarea(titulo="t", estado="completada")  # type: ignore[arg-type]
    assert tarea.estado is EstadoTarea.COMPLETADA


def test_version_below_one_is_refused() -> None:
    with pytest.raises(TareaInvalidaError) as info:
        Tarea(titulo="t", version=0)
    assert info.value.field == "version"


def test_crear_starts_at_version_one_pending_with_equal_timestamps() -> None:
    tarea = Tarea.crear("nueva", "desc")
    assert tarea.version == 1
    assert tarea.estado is EstadoTarea.PENDIENTE
    assert tarea.created_at == tarea.updated_at
    assert tarea.descripcion == "desc"


def test_each_new_tarea_gets_its_own_id() -> None:
    assert len({Tarea.crear("t").id for _ in range(50)}) == 50


def test_actualizar_returns_the_next_version_and_leaves_the_original_unchanged() -> None:
    original = Tarea.crear("uno", "d")
    second = original.actualizar(estado=EstadoTarea.EN_PROGRESO)
    third = second.actualizar(titulo="dos")

    assert (original.version, second.version, third.version) == (1, 2, 3)
    assert original.estado is EstadoTarea.PENDIENTE
    assert second.estado is EstadoTarea.EN_PROGRESO and second.titulo == "uno"
    assert third.titulo == "dos" and third.estado is EstadoTarea.EN_PROGRESO and third.descripcion == "d"
    assert third.id == original.id and third.created_at == original.created_at
    assert original.updated_at <= second.updated_at <= third.updated_at


def test_actualizar_validates_the_new_values() -> None:
    tarea = Tarea.crear("uno")
    with pytest.raises(TareaInvalidaError):
        tarea.actualizar(titulo="  ")
    with pytest.raises(TareaInvalidaError):
        tarea.actualizar(estado="nope")  # type: ignore[arg-type]


def test_actualizar_never_moves_updated_at_backwards() -> None:
    # A Tarea written by a host whose clock ran ahead must not get an older updated_at.
    future = utc_now() + timedelta(hours=1)
    tarea = Tarea(titulo="t", created_at=future, updated_at=future)
    assert tarea.actualizar(titulo="u").updated_at == future


def test_tarea_is_immutable() -> None:
    tarea = Tarea.crear("t")
    with pytest.raises(dataclasses.FrozenInstanceError):
        tarea.titulo = "otro"  # type: ignore[misc]


def test_timestamps_are_utc_with_millisecond_precision() -> None:
    for _ in range(20):
        tarea = Tarea.crear("t").actualizar(titulo="u")
        for stamp in (tarea.created_at, tarea.updated_at):
            assert stamp.tzinfo is not None and stamp.utcoffset() == timedelta(0)
            assert stamp.microsecond % 1000 == 0
    now = utc_now()
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=1)
