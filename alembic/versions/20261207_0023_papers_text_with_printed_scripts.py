"""Stored papers' source text converted again: subscripts and superscripts of math are now printed as
scripts where Unicode has them ("O(n^2)" reads "O(n²)", "x_t+1" reads "xₜ₊₁") and bracketed where it has
not ("d^1/2" reads "d^(1/2)"), `\\operatorname{…}` keeps its argument, siunitx quantities keep their
unit (`\\SI{74}{\\percent}` read "74", now "74%") and a number's point keeps the space before it
("p < .001" read "p <.001"); a source's stripped "mathbf" gets its backslash back.

Only papers whose text changes are written; their summaries are then stale and
`newsletter summarize --pending` redoes them. Downgrading keeps the text as it is: the source's text is
stored beside it.

Revision ID: 0023
Revises: 0022
"""

from collections.abc import Sequence

from alembic import op
from newsletter.sources.store import reconvert_stored_text

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    reconvert_stored_text(op.get_bind())


def downgrade() -> None:
    pass
