"""SQL tables of the staged migration (created by migration 0003; keep them in step)."""

from __future__ import annotations

import sqlalchemy as sa

from infrastructure.sqlalchemy.schema import IdType, metadata

BigId = sa.BigInteger().with_variant(sa.Integer, "sqlite")

# Every stage change, newest = current stage. Kept forever: it is the operators' audit log.
migration_stage_changes = sa.Table(
    "migration_stage_changes",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("from_stage", sa.String(20), nullable=True),
    sa.Column("to_stage", sa.String(20), nullable=False),
    sa.Column("changed_by", sa.String(200), nullable=False),
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("forced", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("reasons", sa.JSON, nullable=False),
)

# The last shadow-read mismatches (pruned to a bounded number of rows).
shadow_mismatches = sa.Table(
    "shadow_mismatches",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("tarea_id", IdType, nullable=False),
    sa.Column("differences", sa.JSON, nullable=False),
    sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
)

# What a Tarea deleted in MongoDB leaves in SQL while SQL is the replica: the delete's
# version, so a late, older update cannot bring the row back.
tarea_tombstones = sa.Table(
    "tarea_tombstones",
    metadata,
    sa.Column("id", IdType, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
)
