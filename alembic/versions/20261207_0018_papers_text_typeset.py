"""Stored papers' plain text converted again from the source's text: TeX's dashes and quotes typed in
plain text are now typeset ("9--52%" → "9–52%", "Flover -- a system" → "Flover – a system", `word' →
‘word’).

Only papers whose plain text changes are written; their summaries are then stale and
`newsletter summarize --pending` redoes them. Downgrading keeps the text as it is: the source's text is
unchanged beside it.

Revision ID: 0018
Revises: 0017
"""

from collections.abc import Sequence

from alembic import op
from newsletter.sources.store import reconvert_stored_text

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    reconvert_stored_text(op.get_bind())


def downgrade() -> None:
    pass
