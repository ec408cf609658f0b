"""Papers like a given paper: nearest neighbours by the cosine of their stored embeddings."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import bindparam, literal_column, select, text
from sqlalchemy.dialects.postgresql import ARRAY, REAL
from sqlalchemy.orm import Session

from newsletter.embeddings import NEAR_DUPLICATE_COSINE, load_model
from newsletter.embeddings.store import text_hash_sql
from newsletter.models import Paper, PaperEmbedding
from newsletter.summaries.queries import paper_tags

SIMILAR_COUNT = 5
# Neighbours read per paper listed: room for the near-duplicates left out.
NEIGHBOURS_READ = 4

# Stored vectors are unit length, so the dot product is the cosine. Postgres computes it over float4[]
# in one scan of paper_embeddings (docs/embeddings.md names pgvector as the path past a million papers).
COSINE = text(
    "(SELECT sum(a * b) FROM unnest(paper_embeddings.vector, :query) AS v(a, b)) AS similarity"
).bindparams(bindparam("query", type_=ARRAY(REAL)))


@dataclass(frozen=True)
class SimilarPaper:
    arxiv_id: str
    title: str
    tags: list[str]


def similar_papers(session: Session, paper_id: int, limit: int = SIMILAR_COUNT) -> list[SimilarPaper]:
    """The `limit` papers most similar to this one, most similar first (none if it has no embedding).

    Only current embeddings count: the same model, and the text the paper has now. A near-duplicate of
    this paper or of a paper listed before it (another version, a re-upload) is left out: the list names
    different papers.
    """
    model = load_model().name
    vector = session.scalar(
        select(PaperEmbedding.vector).where(
            PaperEmbedding.paper_id == paper_id, PaperEmbedding.model == model
        )
    )
    if vector is None:
        return []
    query = (
        select(Paper.arxiv_id, Paper.title, paper_tags(), PaperEmbedding.vector, COSINE)
        .select_from(PaperEmbedding)
        .join(Paper, Paper.id == PaperEmbedding.paper_id)
        .where(
            PaperEmbedding.paper_id != paper_id,
            PaperEmbedding.model == model,
            PaperEmbedding.text_hash == text_hash_sql(),
        )
        .order_by(literal_column("similarity").desc(), Paper.arxiv_id)
        .limit(limit * NEIGHBOURS_READ)
    )
    listed: list[SimilarPaper] = []
    kept = [np.asarray(vector, dtype=np.float32)]
    for arxiv_id, title, tags, stored, _ in session.execute(query, {"query": vector}).all():
        if len(listed) == limit:
            break
        neighbour = np.asarray(stored, dtype=np.float32)
        if max(float(neighbour @ other) for other in kept) >= NEAR_DUPLICATE_COSINE:
            continue
        kept.append(neighbour)
        listed.append(SimilarPaper(arxiv_id, title, list(tags or [])))
    return listed
