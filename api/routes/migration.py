"""Admin API of the staged migration: stage, history, shadow-read mismatches.

Bearer-token protected like the rest of ``/admin`` (see ``api.security``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.dependencies import get_app_container
from api.read_metadata import ReadMetadataMiddleware
from api.security import install_auth_error_handler, require_admin
from core.application.cambiar_etapa import CambiarEtapaCommand, CambioDeEtapaRechazadoError
from core.domain.models.migration_stage import MigrationStage, StageChange
from infrastructure.container import Container

ContainerDep = Annotated[Container, Depends(get_app_container)]


router = APIRouter(prefix="/admin/migration", tags=["migration"], dependencies=[Depends(require_admin)])


class StagePlanOut(BaseModel):
    authoritative: str
    replica: str | None
    read: str
    shadow: bool


class StageChangeOut(BaseModel):
    from_stage: MigrationStage | None
    to_stage: MigrationStage
    changed_by: str
    changed_at: datetime
    forced: bool
    reasons: list[str]

    @classmethod
    def of(cls, change: StageChange) -> StageChangeOut:
        return cls(
            from_stage=change.from_stage,
            to_stage=change.to_stage,
            changed_by=change.changed_by,
            changed_at=change.changed_at,
            forced=change.forced,
            reasons=list(change.reasons),
        )


class StageOut(BaseModel):
    stage: MigrationStage
    set_by_operator: bool = Field(description="false: no stage set yet, it follows ORM")
    plan: StagePlanOut
    history: list[StageChangeOut]


class StagePut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stage: MigrationStage
    force: bool = False
    changed_by: str | None = Field(None, max_length=200)


class StageChangeResultOut(BaseModel):
    from_stage: MigrationStage
    to_stage: MigrationStage
    changed: bool
    forced: bool
    backfilled: int


class DifferenceOut(BaseModel):
    field: str
    authoritative: object
    replica: object


class MismatchOut(BaseModel):
    id: int
    tarea_id: UUID
    detected_at: datetime
    differences: list[DifferenceOut]


def _stage_out(container: Container) -> StageOut:
    migration = container.migration
    stage = migration.current_stage()
    plan = stage.plan
    return StageOut(
        stage=stage,
        set_by_operator=migration.stage_store.current() is not None,
        plan=StagePlanOut(
            authoritative=plan.authoritative.value,
            replica=plan.replica.value if plan.replica else None,
            read=plan.read.value,
            shadow=plan.shadow,
        ),
        history=[StageChangeOut.of(c) for c in migration.stage_store.history(20)],
    )


@router.get("/stage", response_model=StageOut)
def show_stage(container: ContainerDep) -> StageOut:
    """The stage in force, what it does with each store, and the last changes."""
    return _stage_out(container)


@router.put("/stage", response_model=StageChangeResultOut, responses={409: {"description": "refused"}})
def set_stage(
    body: StagePut, container: ContainerDep, request: Request
) -> StageChangeResultOut | JSONResponse:
    """Move to another stage; 409 with the reasons when a guard rail refuses it."""
    client = request.client.host if request.client else "unknown"
    command = CambiarEtapaCommand(
        to_stage=body.stage, changed_by=body.changed_by or f"api:{client}", force=body.force
    )
    try:
        result = container.cambiar_etapa().execute(command)
    except CambioDeEtapaRechazadoError as exc:
        return JSONResponse(
            status_code=409,
            content={
                "error": "stage_change_refused",
                "detail": exc.reasons,
                "from_stage": exc.from_stage.value,
                "to_stage": exc.to_stage.value,
            },
        )
    return StageChangeResultOut(
        from_stage=result.from_stage,
        to_stage=result.to_stage,
        changed=result.change is not None,
        forced=result.change.forced if result.change else False,
        backfilled=result.backfilled,
    )


@router.get("/shadow-mismatches", response_model=list[MismatchOut])
def shadow_mismatches(
    container: ContainerDep, limit: Annotated[int, Query(ge=1, le=1000)] = 50
) -> list[MismatchOut]:
    """The most recent shadow-read mismatches, newest first."""
    return [
        MismatchOut(
            id=m.id,
            tarea_id=m.tarea_id,
            detected_at=m.detected_at,
            differences=[
                DifferenceOut(field=d.field, authoritative=d.authoritative, replica=d.replica)
                for d in m.differences
            ],
        )
        for m in container.migration.shadow_recorder.recent(limit)
    ]


def install(app: FastAPI) -> None:
    """Mount the migration admin routes and the read-metadata middleware."""
    install_auth_error_handler(app)
    app.include_router(router)
    app.add_middleware(ReadMetadataMiddleware)
