"""SQL tables (SQLAlchemy Core). Alembic migrations create them; see ``migrations/``."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# "C" collation on PostgreSQL so ids sort byte-wise, as in MongoDB: reconciliation
# compares the two stores chunk by chunk over id ranges.
IdType = sa.String(36).with_variant(sa.String(36, collation="C"), "postgresql")

tareas = sa.Table(
    "tareas",
    metadata,
    sa.Column("id", IdType, primary_key=True),
    sa.Column("titulo", sa.String(200), nullable=False),
    sa.Column("descripcion", sa.Text, nullable=False, server_default=""),
    sa.Column("estado", sa.String(20), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Index("ix_tareas_estado_created", "estado", "created_at"),
    sa.Index("ix_tareas_created", "created_at", "id"),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("operation", sa.String(10), nullable=False),
    sa.Column("tarea_id", IdType, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("payload", sa.JSON, nullable=True),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("last_error_type", sa.String(200), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    # When the event was last handed to the queue; NULL = never, or the hand-off failed.
    sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
    # The store the event is applied to (migration 0003): "mongo" unless MongoDB is
    # authoritative (the mongo_primary stage), then "sql".
    sa.Column("target", sa.String(10), nullable=False, server_default="mongo"),
    sa.Index("ix_outbox_status_dispatched", "status", "dispatched_at"),
    sa.Index("ix_outbox_tarea", "tarea_id"),
)

outbox_attempts = sa.Table(
    "outbox_attempts",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.BigInteger, sa.ForeignKey("outbox.id", ondelete="CASCADE"), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("error_type", sa.String(200), nullable=False),
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_outbox_attempts_event", "event_id"),
)
