"""Stored papers' plain text converted again from the source's text: hidden characters that LaTeX spells
(`\\-` a soft hyphen, `\\nolinebreak` a word joiner, `\\textcompwordmark` a zero-width non-joiner) are now
left out of the conversion, as the parsers leave them out of the source's text ("Pay\\-Pal" was stored
with a soft hyphen, which every output removed but which kept the keyword "PayPal" from matching).

Only papers whose plain text changes are written; their summaries are then stale and
`newsletter summarize --pending` redoes them. Downgrading keeps the text as it is: the source's text is
unchanged beside it.

Revision ID: 0020
Revises: 0019
"""

from collections.abc import Sequence

from alembic import op
from newsletter.sources.store import reconvert_stored_text

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    reconvert_stored_text(op.get_bind())


def downgrade() -> None:
    pass
