"""Migration stages: outbox event target, stage history, shadow mismatches, SQL tombstones.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from infrastructure.migration.tables import migration_stage_changes, shadow_mismatches, tarea_tombstones

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

NEW_TABLES = (migration_stage_changes, shadow_mismatches, tarea_tombstones)


def upgrade() -> None:
    bind = op.get_bind()
    columns = {c["name"] for c in sa.inspect(bind).get_columns("outbox")}
    if "target" not in columns:
        with op.batch_alter_table("outbox") as batch:
            batch.add_column(sa.Column("target", sa.String(10), nullable=False, server_default="mongo"))
    for table in NEW_TABLES:
        table.create(bind, checkfirst=True)


def downgrade() -> None:
    bind = op.get_bind()
    for table in reversed(NEW_TABLES):
        table.drop(bind, checkfirst=True)
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("target")
