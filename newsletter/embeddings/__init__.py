"""Sentence embeddings of papers: the model shipped in the package, batching, and storage in Postgres."""

from newsletter.embeddings.model import EmbeddingModel, embedding_text, load_model, model_name
from newsletter.embeddings.store import (
    EmbedCounts,
    embed_all_pending,
    embed_pending,
    load_embeddings,
    papers_without_current_embedding,
)

__all__ = [
    "EmbedCounts",
    "EmbeddingModel",
    "embed_all_pending",
    "embed_pending",
    "embedding_text",
    "load_embeddings",
    "load_model",
    "model_name",
    "papers_without_current_embedding",
]
