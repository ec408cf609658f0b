"""Stored papers' plain text converted again from the source's text: the conversion now restores more
names a source stripped of their backslashes ("Tgeq 0", "ell_1", "widetilde O(n)", "Oleft(").

Only papers whose plain text changes are written; their summaries are then stale and
`newsletter summarize --pending` redoes them. Downgrading keeps the text as it is: the source's text is
unchanged beside it, and the earlier conversion was no more faithful to it.

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

from alembic import op
from newsletter.sources.store import reconvert_stored_text

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    reconvert_stored_text(op.get_bind())


def downgrade() -> None:
    pass
