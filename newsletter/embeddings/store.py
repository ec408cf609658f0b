"""Stored embeddings: which papers need one, writing them in batches, and reading them back; papers' word
vectors, made from their stored text when asked."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from newsletter.db import session_scope
from newsletter.embeddings.model import EmbeddingModel, embedding_text, text_hash
from newsletter.embeddings.words import WordVocabulary, paper_words_text
from newsletter.models import Paper, PaperEmbedding
from newsletter.paper_queue import claim_papers_lacking

logger = logging.getLogger(__name__)


@dataclass
class EmbedCounts:
    selected: int = 0
    stored: int = 0


def text_hash_sql() -> ColumnElement[str]:
    """`model.text_hash` computed by Postgres over the papers table (a test checks they agree)."""
    payload = func.concat(Paper.title, "\n", func.coalesce(Paper.abstract, ""))
    return func.encode(func.sha256(func.convert_to(payload, "UTF8")), "hex")


def papers_without_current_embedding(session: Session, model_name: str, limit: int) -> list[Paper]:
    """Papers never embedded, embedded by another model, or whose title or abstract changed since; claimed."""
    is_current = exists().where(
        PaperEmbedding.paper_id == Paper.id,
        PaperEmbedding.model == model_name,
        PaperEmbedding.text_hash == text_hash_sql(),
    )
    return claim_papers_lacking(session, is_current, limit)


def embed_pending(session: Session, model: EmbeddingModel, limit: int = 1000) -> EmbedCounts:
    papers = papers_without_current_embedding(session, model.name, limit)
    if not papers:
        return EmbedCounts()
    vectors = model.embed([embedding_text(paper.title, paper.abstract or "") for paper in papers])
    store_embeddings(
        session,
        model.name,
        [(paper.id, text_hash(paper.title, paper.abstract or "")) for paper in papers],
        vectors,
    )
    logger.info("Embedded %d papers with %s", len(papers), model.name)
    return EmbedCounts(selected=len(papers), stored=len(papers))


def embed_all_pending(
    session_factory: sessionmaker[Session], model: EmbeddingModel, chunk: int = 1000
) -> EmbedCounts:
    """Every paper without a current embedding, one transaction per chunk."""
    total = EmbedCounts()
    while True:
        with session_scope(session_factory) as session:
            counts = embed_pending(session, model, limit=chunk)
        total.selected += counts.selected
        total.stored += counts.stored
        if counts.selected < chunk:
            return total


def store_embeddings(
    session: Session, model_name: str, keys: list[tuple[int, str]], vectors: np.ndarray
) -> None:
    """Insert or replace one embedding per (paper id, text hash), row i of `vectors` for keys[i]."""
    rows = [
        {"paper_id": paper_id, "model": model_name, "text_hash": key, "vector": vector.tolist()}
        for (paper_id, key), vector in zip(keys, vectors, strict=True)
    ]
    if not rows:
        return
    statement = insert(PaperEmbedding).values(rows)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[PaperEmbedding.paper_id],
            set_={
                "model": statement.excluded.model,
                "text_hash": statement.excluded.text_hash,
                "vector": statement.excluded.vector,
                "embedded_at": func.now(),
            },
        )
    )
    session.flush()


def load_embeddings(session: Session, paper_ids: list[int], model_name: str) -> tuple[list[int], np.ndarray]:
    """The papers among `paper_ids` with a current embedding from this model, and their vectors as rows.

    For ranking and similar papers: one query, one (n, dimensions) float32 matrix; papers without a
    current embedding are left out (embed them first with `embed_pending`).
    """
    query = (
        select(PaperEmbedding.paper_id, PaperEmbedding.vector)
        .join(Paper, Paper.id == PaperEmbedding.paper_id)
        .where(
            PaperEmbedding.paper_id.in_(paper_ids),
            PaperEmbedding.model == model_name,
            PaperEmbedding.text_hash == text_hash_sql(),
        )
        .order_by(PaperEmbedding.paper_id)
    )
    rows = session.execute(query).all()
    if not rows:
        return [], np.zeros((0, 0), dtype=np.float32)
    return [row[0] for row in rows], np.asarray([row[1] for row in rows], dtype=np.float32)


def load_word_vectors(
    session: Session, paper_ids: list[int], vocabulary: WordVocabulary
) -> sparse.csr_matrix:
    """The word vectors (docs/embeddings.md, "Words") of `paper_ids`, one row each in that order, made from
    their current title and abstract; an unknown id is a zero row."""
    rows = session.execute(select(Paper.id, Paper.title, Paper.abstract).where(Paper.id.in_(paper_ids)))
    texts = {paper_id: paper_words_text(title, abstract) for paper_id, title, abstract in rows}
    return vocabulary.vectors(texts.get(paper_id, "") for paper_id in paper_ids)
