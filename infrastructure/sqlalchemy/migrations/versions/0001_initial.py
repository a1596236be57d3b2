"""Tareas, the transactional outbox and its attempt log.

Revision ID: 0001
Revises:

Written out in full (not created from ``schema.py``) so that later revisions that
change those tables still apply on top of exactly this schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _id_type() -> sa.types.TypeEngine[str]:
    return sa.String(36).with_variant(sa.String(36, collation="C"), "postgresql")


def _serial() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "tareas",
        sa.Column("id", _id_type(), primary_key=True),
        sa.Column("titulo", sa.String(200), nullable=False),
        sa.Column("descripcion", sa.Text, nullable=False, server_default=""),
        sa.Column("estado", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_tareas_estado_created", "tareas", ["estado", "created_at"])
    op.create_index("ix_tareas_created", "tareas", ["created_at", "id"])

    op.create_table(
        "outbox",
        sa.Column("id", _serial(), primary_key=True, autoincrement=True),
        sa.Column("operation", sa.String(10), nullable=False),
        sa.Column("tarea_id", _id_type(), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("payload", sa.JSON, nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("last_error_type", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_outbox_status_dispatched", "outbox", ["status", "dispatched_at"])
    op.create_index("ix_outbox_tarea", "outbox", ["tarea_id"])

    op.create_table(
        "outbox_attempts",
        sa.Column("id", _serial(), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.BigInteger, sa.ForeignKey("outbox.id", ondelete="CASCADE"), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("error_type", sa.String(200), nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_outbox_attempts_event", "outbox_attempts", ["event_id"])


def downgrade() -> None:
    op.drop_table("outbox_attempts")
    op.drop_table("outbox")
    op.drop_table("tareas")
