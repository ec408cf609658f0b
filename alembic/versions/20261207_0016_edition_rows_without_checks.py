"""Edition rows without the foreign-key checks and indexes that only guarded deletions nothing makes.

Items are written only by `digests/build.py` `store_contents`, for the contents that same statement
inserted, and name papers the build has just read; an edition names a content id from the same
transaction. No code deletes papers or edition contents, so the checks never caught anything, and the
cascades and restrict they carried never ran. Yet each row paid a trigger per key (about 2.8 us per
item and key, 3-5 us per edition under EXPLAIN ANALYZE). The two indexes were read only by those
cascades. Without both, Postgres spends 20.1 CPU s on the benchmark's 1,000,000-subscriber build instead
of 33.9 (docs/editions.md, "Scale"). `editions.subscriber_id` keeps its foreign key: subscribers are
deleted.

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint(
        op.f("fk_edition_items_content_id_edition_contents"), "edition_items", type_="foreignkey"
    )
    op.drop_constraint(op.f("fk_edition_items_paper_id_papers"), "edition_items", type_="foreignkey")
    op.drop_constraint(op.f("fk_editions_content_id_edition_contents"), "editions", type_="foreignkey")
    op.drop_index(op.f("ix_edition_items_paper_id"), table_name="edition_items")
    op.drop_index(op.f("ix_editions_content_id"), table_name="editions")


def downgrade() -> None:
    op.create_index(op.f("ix_editions_content_id"), "editions", ["content_id"], unique=False)
    op.create_index(op.f("ix_edition_items_paper_id"), "edition_items", ["paper_id"], unique=False)
    op.create_foreign_key(
        op.f("fk_editions_content_id_edition_contents"),
        "editions",
        "edition_contents",
        ["content_id"],
        ["id"],
        ondelete="RESTRICT",
    )
    op.create_foreign_key(
        op.f("fk_edition_items_paper_id_papers"),
        "edition_items",
        "papers",
        ["paper_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.create_foreign_key(
        op.f("fk_edition_items_content_id_edition_contents"),
        "edition_items",
        "edition_contents",
        ["content_id"],
        ["id"],
        ondelete="CASCADE",
    )
