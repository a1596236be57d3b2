"""Migration stages: outbox event target, stage history, shadow mismatches, SQL tombstones.

Revision ID: 0003
Revises: 0002

Written out in full (not created from ``infrastructure/migration/tables.py``), like
0001 and 0002, so later revisions apply on top of exactly this schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _id_type() -> sa.types.TypeEngine[str]:
    return sa.String(36).with_variant(sa.String(36, collation="C"), "postgresql")


def _serial() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    # Existing events were all recorded while SQL was authoritative: they target MongoDB.
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("target", sa.String(10), nullable=False, server_default="mongo"))
    op.create_table(
        "migration_stage_changes",
        sa.Column("id", _serial(), primary_key=True, autoincrement=True),
        sa.Column("from_stage", sa.String(20), nullable=True),
        sa.Column("to_stage", sa.String(20), nullable=False),
        sa.Column("changed_by", sa.String(200), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("forced", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("reasons", sa.JSON, nullable=False),
    )
    op.create_table(
        "shadow_mismatches",
        sa.Column("id", _serial(), primary_key=True, autoincrement=True),
        sa.Column("tarea_id", _id_type(), nullable=False),
        sa.Column("differences", sa.JSON, nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "tarea_tombstones",
        sa.Column("id", _id_type(), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tarea_tombstones")
    op.drop_table("shadow_mismatches")
    op.drop_table("migration_stage_changes")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("target")
