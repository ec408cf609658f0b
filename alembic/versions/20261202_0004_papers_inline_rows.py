"""Paper rows of up to 8 KB stay inline, uncompressed.

A paper's row (a ~1,600-character abstract and its ~1.7 KB search vector) is over Postgres' default
2 KB toast threshold, so every insert compressed the vector and the abstract and moved them to the toast
table: 8.7 % of the time of storing new papers went to pglz alone. With the target at the largest size a
heap page holds, rows stay in the heap as they are; only an unusually long paper is still toasted.
Existing rows are unchanged until they are next written.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE papers SET (toast_tuple_target = 8160)")


def downgrade() -> None:
    op.execute("ALTER TABLE papers RESET (toast_tuple_target)")
