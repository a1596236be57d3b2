"""Tarea CRUD routes: translate HTTP to use-case calls, nothing more."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response, status

from api.dependencies import get_app_container, known_query_params
from api.schemas import ErrorOut, TareaCreate, TareaOut, TareaPageOut, TareaPatch, TareaReplace
from core.application.actualizar_tarea import ActualizarTareaCommand
from core.application.crear_tarea import CrearTareaCommand
from core.application.listar_tareas import MAX_PAGE_SIZE, ListarTareasQuery
from core.domain.models.tarea import EstadoTarea
from infrastructure.container import Container

router = APIRouter(prefix="/tareas", tags=["tareas"])
ContainerDep = Annotated[Container, Depends(get_app_container)]
ERRORS: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorOut},
    409: {"model": ErrorOut},
    503: {"model": ErrorOut},
}


def _etag(response: Response, tarea: TareaOut) -> TareaOut:
    response.headers["ETag"] = f'"{tarea.version}"'
    return tarea


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TareaOut, responses=ERRORS)
def crear(body: TareaCreate, container: ContainerDep, response: Response) -> TareaOut:
    tarea = container.crear_tarea().execute(
        CrearTareaCommand(titulo=body.titulo, descripcion=body.descripcion, estado=body.estado)
    )
    response.headers["Location"] = f"/tareas/{tarea.id}"
    return _etag(response, TareaOut.of(tarea))


@router.get(
    "",
    response_model=TareaPageOut,
    responses=ERRORS,
    dependencies=[Depends(known_query_params("estado", "limit", "offset"))],
)
def listar(
    container: ContainerDep,
    estado: EstadoTarea | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> TareaPageOut:
    page = container.listar_tareas().execute(ListarTareasQuery(estado=estado, limit=limit, offset=offset))
    return TareaPageOut(
        items=[TareaOut.of(t) for t in page.items], total=page.total, limit=page.limit, offset=page.offset
    )


@router.get("/{tarea_id}", response_model=TareaOut, responses=ERRORS)
def obtener(tarea_id: UUID, container: ContainerDep, response: Response) -> TareaOut:
    return _etag(response, TareaOut.of(container.obtener_tarea().execute(tarea_id)))


def _actualizar(
    tarea_id: UUID, body: TareaReplace | TareaPatch, container: Container, response: Response
) -> TareaOut:
    """PUT and PATCH differ only in which fields the body requires."""
    command = ActualizarTareaCommand(
        tarea_id=tarea_id,
        titulo=body.titulo,
        descripcion=body.descripcion,
        estado=body.estado,
        expected_version=body.expected_version,
    )
    return _etag(response, TareaOut.of(container.actualizar_tarea().execute(command)))


@router.put("/{tarea_id}", response_model=TareaOut, responses=ERRORS)
def reemplazar(tarea_id: UUID, body: TareaReplace, container: ContainerDep, response: Response) -> TareaOut:
    return _actualizar(tarea_id, body, container, response)


@router.patch("/{tarea_id}", response_model=TareaOut, responses=ERRORS)
def modificar(tarea_id: UUID, body: TareaPatch, container: ContainerDep, response: Response) -> TareaOut:
    return _actualizar(tarea_id, body, container, response)


@router.delete("/{tarea_id}", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS)
def eliminar(tarea_id: UUID, container: ContainerDep) -> Response:
    container.eliminar_tarea().execute(tarea_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
