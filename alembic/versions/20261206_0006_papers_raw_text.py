"""Papers keep the title and abstract as the source sent them beside the plain text readers are shown.

`title` and `abstract` become plain text (LaTeX converted by `newsletter.plaintext.latex`); the source's
text moves to `title_raw` and `abstract_raw`. Stored papers are converted here, in batches by id.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from newsletter.sources.store import reconvert_stored_text

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("papers", sa.Column("title_raw", sa.Text(), server_default="", nullable=False))
    op.add_column("papers", sa.Column("abstract_raw", sa.Text(), server_default="", nullable=False))
    op.execute("UPDATE papers SET title_raw = title, abstract_raw = abstract")
    reconvert_stored_text(op.get_bind())


def downgrade() -> None:
    op.execute("UPDATE papers SET title = title_raw, abstract = abstract_raw")
    op.drop_column("papers", "abstract_raw")
    op.drop_column("papers", "title_raw")
