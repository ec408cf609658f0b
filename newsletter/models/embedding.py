"""Each paper's sentence embedding, kept for tagging now and for ranking and similar papers next."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String
from sqlalchemy.dialects.postgresql import ARRAY, REAL
from sqlalchemy.orm import Mapped, mapped_column

from newsletter.models.base import Base, created_at_column


class PaperEmbedding(Base):
    __tablename__ = "paper_embeddings"

    paper_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    # Which model made the vector: a new model re-embeds every paper.
    model: Mapped[str] = mapped_column(String(64))
    # sha256 of the text that was embedded: a new abstract (a new arXiv version) re-embeds the paper.
    text_hash: Mapped[str] = mapped_column(String(64))
    # float4[]: enough for cosine similarity, and it runs on any Postgres (pgvector is the path at scale).
    vector: Mapped[list[float]] = mapped_column(ARRAY(REAL))
    embedded_at: Mapped[datetime] = created_at_column()

    __table_args__ = (CheckConstraint("cardinality(vector) > 0", name="vector_not_empty"),)
