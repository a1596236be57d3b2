"""PostgreSQL: notify the relay when an event is recorded for it to publish.

Revision ID: 0004
Revises: 0003

A row trigger with a WHEN clause, so only undispatched events (``DUALWRITE_PUBLISH_VIA=
relay``, or a failed threadpool write recorded for replay) pay for it. NOTIFY is
delivered at commit, once per distinct payload per transaction: a rolled-back write
wakes nobody. SQLite has no NOTIFY; its relay polls. Written out in full, like 0001-0003.
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE OR REPLACE FUNCTION dualwrite_outbox_notify() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('dualwrite_outbox', '');
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER outbox_notify_relay
        AFTER INSERT ON outbox
        FOR EACH ROW WHEN (NEW.dispatched_at IS NULL)
        EXECUTE FUNCTION dualwrite_outbox_notify()
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS outbox_notify_relay ON outbox")
    op.execute("DROP FUNCTION IF EXISTS dualwrite_outbox_notify()")
