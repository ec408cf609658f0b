"""Stored papers' source text read again as the parsers keep it now, and converted again: tag characters
(which spell ASCII no one sees: "Pay<tag space>Pal" matched no keyword "PayPal"), the other invisible
format characters and default-ignorable code points, runs of variation selectors and noncharacters are
now hidden characters, removed before anything is stored. Every output already removes them from what
was stored before.

Only papers whose text changes are written; their summaries are then stale and
`newsletter summarize --pending` redoes them. Downgrading keeps the text as it is: what was removed was
never meant to be read.

Revision ID: 0022
Revises: 0021
"""

from collections.abc import Sequence

from alembic import op
from newsletter.sources.store import reconvert_stored_text

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    reconvert_stored_text(op.get_bind())


def downgrade() -> None:
    pass
