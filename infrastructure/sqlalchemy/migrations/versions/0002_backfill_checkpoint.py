"""Operator tooling: backfill checkpoints and the record of reconcile runs.

Revision ID: 0002
Revises: 0001

Written out in full (not created from ``operations_schema.py``), like 0001, so later
revisions apply on top of exactly this schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backfill_checkpoints",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("last_id", sa.String(36).with_variant(sa.String(36, collation="C"), "postgresql")),
        sa.Column("copied", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("finished", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "reconcile_runs",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("repair", sa.Boolean, nullable=False),
        sa.Column("chunks", sa.Integer, nullable=False),
        sa.Column("chunks_differing", sa.Integer, nullable=False),
        sa.Column("rows_sql", sa.BigInteger, nullable=False),
        sa.Column("rows_mongo", sa.BigInteger, nullable=False),
        sa.Column("missing", sa.Integer, nullable=False),
        sa.Column("extra", sa.Integer, nullable=False),
        sa.Column("stale", sa.Integer, nullable=False),
        sa.Column("in_flight", sa.Integer, nullable=False),
        sa.Column("repair_events", sa.Integer, nullable=False),
        sa.Column("drift_sample", sa.JSON, nullable=True),
    )
    op.create_index("ix_reconcile_runs_finished", "reconcile_runs", ["finished_at"])


def downgrade() -> None:
    op.drop_table("reconcile_runs")
    op.drop_table("backfill_checkpoints")
