"""Webhook events found by address: deleting a subscriber deletes the provider's events about their
address (their opens and clicks carry an IP address and a user agent), and an index on the lower-cased
address keeps that from scanning every stored event.

Revision ID: 0021
Revises: 0020
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE INDEX ix_webhook_events_email ON webhook_events (lower(email))")


def downgrade() -> None:
    op.execute("DROP INDEX ix_webhook_events_email")
