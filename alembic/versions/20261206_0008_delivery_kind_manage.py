"""Deliveries of kind `manage`: the "manage your subscription" email a signup of an active address sends.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = "kind IN ('edition', 'confirmation', 'welcome', 'unsubscribed')"
NEW_KINDS = "kind IN ('edition', 'confirmation', 'welcome', 'unsubscribed', 'manage')"


def upgrade() -> None:
    op.drop_constraint(op.f("ck_deliveries_kind"), "deliveries", type_="check")
    op.create_check_constraint(op.f("ck_deliveries_kind"), "deliveries", NEW_KINDS)


def downgrade() -> None:
    op.execute("DELETE FROM deliveries WHERE kind = 'manage'")
    op.drop_constraint(op.f("ck_deliveries_kind"), "deliveries", type_="check")
    op.create_check_constraint(op.f("ck_deliveries_kind"), "deliveries", OLD_KINDS)
