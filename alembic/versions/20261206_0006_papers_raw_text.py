"""Papers keep the title and abstract as the source sent them beside the plain text readers are shown.

`title` and `abstract` become plain text (LaTeX converted by `newsletter.plaintext.latex`); the source's
text moves to `title_raw` and `abstract_raw`. Stored papers are converted here, in batches by id.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from newsletter.plaintext.latex import latex_to_text

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000


def upgrade() -> None:
    op.add_column("papers", sa.Column("title_raw", sa.Text(), server_default="", nullable=False))
    op.add_column("papers", sa.Column("abstract_raw", sa.Text(), server_default="", nullable=False))
    op.execute("UPDATE papers SET title_raw = title, abstract_raw = abstract")
    connection = op.get_bind()
    last_id = 0
    while True:
        rows = connection.execute(
            sa.text(
                "SELECT id, title_raw, abstract_raw FROM papers WHERE id > :last ORDER BY id LIMIT :batch"
            ),
            {"last": last_id, "batch": BATCH},
        ).all()
        if not rows:
            return
        last_id = rows[-1][0]
        changed = [
            {"id": paper_id, "title": latex_to_text(title), "abstract": latex_to_text(abstract)}
            for paper_id, title, abstract in rows
        ]
        changed = [
            row for row, (_, title, abstract) in zip(changed, rows, strict=True)
            if (row["title"], row["abstract"]) != (title, abstract)
        ]  # fmt: skip
        if changed:
            connection.execute(
                sa.text("UPDATE papers SET title = :title, abstract = :abstract WHERE id = :id"), changed
            )


def downgrade() -> None:
    op.execute("UPDATE papers SET title = title_raw, abstract = abstract_raw")
    op.drop_column("papers", "abstract_raw")
    op.drop_column("papers", "title_raw")
