"""Tareas, the transactional outbox and its attempt log.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

from infrastructure.sqlalchemy.schema import outbox, outbox_attempts, tareas

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    for table in (tareas, outbox, outbox_attempts):
        table.create(bind, checkfirst=True)


def downgrade() -> None:
    bind = op.get_bind()
    for table in (outbox_attempts, outbox, tareas):
        table.drop(bind, checkfirst=True)
