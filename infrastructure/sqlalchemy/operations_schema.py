"""Tables of the operator tooling: backfill checkpoints and reconcile runs.

They live on the shared ``metadata`` so Alembic sees one schema; migration 0002 creates them.
"""

from __future__ import annotations

import sqlalchemy as sa

from infrastructure.sqlalchemy.schema import IdType, metadata

backfill_checkpoints = sa.Table(
    "backfill_checkpoints",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("last_id", IdType, nullable=True),
    sa.Column("copied", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("finished", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

reconcile_runs = sa.Table(
    "reconcile_runs",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
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
    # The first drift entries, for a look after the fact; the counts above are complete.
    sa.Column("drift_sample", sa.JSON, nullable=True),
    sa.Index("ix_reconcile_runs_finished", "finished_at"),
)
