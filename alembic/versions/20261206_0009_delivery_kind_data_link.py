"""Deliveries of kind `data_link`: the short-lived link to download or delete one's data, sent on request.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = "kind IN ('edition', 'confirmation', 'welcome', 'unsubscribed', 'manage')"
NEW_KINDS = "kind IN ('edition', 'confirmation', 'welcome', 'unsubscribed', 'manage', 'data_link')"


def upgrade() -> None:
    op.drop_constraint(op.f("ck_deliveries_kind"), "deliveries", type_="check")
    op.create_check_constraint(op.f("ck_deliveries_kind"), "deliveries", NEW_KINDS)


def downgrade() -> None:
    op.execute("DELETE FROM deliveries WHERE kind = 'data_link'")
    op.drop_constraint(op.f("ck_deliveries_kind"), "deliveries", type_="check")
    op.create_check_constraint(op.f("ck_deliveries_kind"), "deliveries", OLD_KINDS)
