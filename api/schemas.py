"""HTTP request and response bodies."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from core.domain.models.tarea import DESCRIPCION_MAX_LENGTH, TITULO_MAX_LENGTH, EstadoTarea, Tarea

Titulo = Field(min_length=1, max_length=TITULO_MAX_LENGTH, description="Non-blank title")
Descripcion = Field(max_length=DESCRIPCION_MAX_LENGTH)


class TareaCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    titulo: str = Titulo
    descripcion: str = Field("", max_length=DESCRIPCION_MAX_LENGTH)
    estado: EstadoTarea = EstadoTarea.PENDIENTE


class TareaReplace(TareaCreate):
    """PUT body: every field; ``expected_version`` guards against lost updates."""

    expected_version: int | None = Field(None, ge=1)


class TareaPatch(BaseModel):
    """PATCH body: only the fields to change."""

    model_config = ConfigDict(extra="forbid")

    titulo: str | None = Field(None, min_length=1, max_length=TITULO_MAX_LENGTH)
    descripcion: str | None = Field(None, max_length=DESCRIPCION_MAX_LENGTH)
    estado: EstadoTarea | None = None
    expected_version: int | None = Field(None, ge=1)


class TareaOut(BaseModel):
    id: UUID
    titulo: str
    descripcion: str
    estado: EstadoTarea
    created_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def of(cls, tarea: Tarea) -> TareaOut:
        return cls(
            id=tarea.id,
            titulo=tarea.titulo,
            descripcion=tarea.descripcion,
            estado=tarea.estado,
            created_at=tarea.created_at,
            updated_at=tarea.updated_at,
            version=tarea.version,
        )


class TareaPageOut(BaseModel):
    items: list[TareaOut]
    total: int
    limit: int
    offset: int


class ErrorOut(BaseModel):
    """Every error answer has this shape."""

    error: str
    detail: str | list[dict[str, object]]
