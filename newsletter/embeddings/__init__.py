"""Sentence embeddings of papers (the model shipped in the package, batching, storage in Postgres) and their
word vectors (a vocabulary shipped in the package)."""

from newsletter.embeddings.model import (
    NEAR_DUPLICATE_COSINE,
    EmbeddingModel,
    embedding_text,
    load_model,
    model_name,
)
from newsletter.embeddings.store import (
    EmbedCounts,
    embed_all_pending,
    embed_pending,
    load_embeddings,
    load_word_vectors,
    papers_without_current_embedding,
)
from newsletter.embeddings.words import WordVocabulary, load_vocabulary

__all__ = [
    "NEAR_DUPLICATE_COSINE",
    "EmbedCounts",
    "EmbeddingModel",
    "WordVocabulary",
    "embed_all_pending",
    "embed_pending",
    "embedding_text",
    "load_embeddings",
    "load_vocabulary",
    "load_word_vectors",
    "load_model",
    "model_name",
    "papers_without_current_embedding",
]
