"""The packaged embedding model and stored embeddings on the real database: kept per paper, re-embedded
when the text or the model changes, read back as one matrix."""

import numpy as np
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from newsletter.embeddings import embed_pending, embedding_text, load_embeddings, load_model
from newsletter.embeddings.model import EmbeddingModel, text_hash
from newsletter.embeddings.store import papers_without_current_embedding, text_hash_sql
from newsletter.models import Paper, PaperEmbedding
from tests.factories import make_paper

KV_CACHE = (
    "KV Cache Eviction for Long-Context LLM Inference",
    "Large language models keep a key-value cache during decoding. We evict cache entries by attention "
    "score and cut memory by half with no loss in accuracy on long-context benchmarks.",
)
KV_CACHE_TOO = (
    "Compressing the Key-Value Cache of Transformers",
    "Serving language models is limited by the memory of the attention cache. We quantize keys and values "
    "to 2 bits and keep decoding throughput high.",
)
ROBOT = (
    "Dexterous Grasping with a Five-Fingered Robot Hand",
    "We train a manipulation policy in simulation and transfer it to a real robot arm that grasps objects.",
)


def cosine(model: EmbeddingModel, first: tuple[str, str], second: tuple[str, str]) -> float:
    vectors = model.embed([embedding_text(*first), embedding_text(*second)])
    return float(vectors[0] @ vectors[1])


def test_packaged_model_loads_from_the_package_and_gives_unit_vectors():
    model = load_model()
    vectors = model.embed([embedding_text(*KV_CACHE), embedding_text(*ROBOT)])

    assert model.name == "minilm-l6-static-256-v1"
    assert vectors.shape == (2, 256) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_papers_on_the_same_subject_are_closer_than_papers_on_different_ones():
    model = load_model()

    assert cosine(model, KV_CACHE, KV_CACHE_TOO) > cosine(model, KV_CACHE, ROBOT) + 0.1


def test_embedding_is_the_same_alone_as_in_a_batch_of_any_size():
    model = load_model()
    texts = [embedding_text(*paper) for paper in (KV_CACHE, KV_CACHE_TOO, ROBOT)] * 5

    together = model.embed(texts, batch_size=4)
    alone = np.vstack([model.embed([text]) for text in texts])

    assert np.allclose(together, alone, atol=1e-6)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "\x00",
        "Graph " * 200_000,
        "Обучение с подкреплением 強化学習",
        r"$\mathcal{O}(n^2)$ \cite{x}",
    ],
    ids=["empty", "blank", "nul", "1MB", "non-English", "LaTeX"],
)
def test_awkward_text_embeds_without_error(text):
    vectors = load_model().embed([text])

    assert vectors.shape == (1, 256) and np.isfinite(vectors).all()


def test_sql_text_hash_matches_the_python_one_on_awkward_text(session: Session) -> None:
    paper = make_paper(session, title="  Tabs\tand\nÜnïcode — ", abstract="Line\r\nbreaks and $x^2$ ")

    computed = session.scalar(select(text_hash_sql()).where(Paper.id == paper.id))

    assert computed == text_hash(paper.title, paper.abstract)


def test_embed_pending_stores_each_paper_once_and_reads_them_back(session: Session) -> None:
    model = load_model()
    papers = [make_paper(session, title=title, abstract=abstract) for title, abstract in (KV_CACHE, ROBOT)]

    first = embed_pending(session, model)
    second = embed_pending(session, model)
    paper_ids, vectors = load_embeddings(session, [paper.id for paper in papers], model.name)

    assert (first.stored, second.stored) == (2, 0)
    assert paper_ids == sorted(paper.id for paper in papers)
    expected = model.embed([embedding_text(*KV_CACHE), embedding_text(*ROBOT)])
    assert np.allclose(vectors, expected[np.argsort([paper.id for paper in papers])], atol=1e-6)


def test_a_new_abstract_version_is_re_embedded_and_only_that_paper(session: Session) -> None:
    model = load_model()
    changed = make_paper(session, title=KV_CACHE[0], abstract=KV_CACHE[1])
    unchanged = make_paper(session, title=ROBOT[0], abstract=ROBOT[1])
    embed_pending(session, model)

    session.execute(update(Paper).where(Paper.id == changed.id).values(version=2, abstract=KV_CACHE_TOO[1]))
    session.expire_all()
    stale_ids, _ = load_embeddings(session, [changed.id, unchanged.id], model.name)
    pending = papers_without_current_embedding(session, model.name, limit=10)
    counts = embed_pending(session, model)

    assert stale_ids == [unchanged.id]
    assert [paper.id for paper in pending] == [changed.id]
    assert counts.stored == 1
    stored = session.scalars(select(PaperEmbedding).where(PaperEmbedding.paper_id == changed.id)).one()
    assert stored.text_hash == text_hash(KV_CACHE[0], KV_CACHE_TOO[1])
    assert np.allclose(
        stored.vector, model.embed([embedding_text(KV_CACHE[0], KV_CACHE_TOO[1])])[0], atol=1e-6
    )
    assert session.scalar(select(func.count()).select_from(PaperEmbedding)) == 2


def test_a_different_model_re_embeds_every_paper(session: Session) -> None:
    model = load_model()
    make_paper(session, title=KV_CACHE[0], abstract=KV_CACHE[1])
    embed_pending(session, model)
    renamed = EmbeddingModel(
        name="another-model", tokenizer=model.tokenizer, vectors=model.vectors, unknown_id=model.unknown_id
    )

    assert embed_pending(session, renamed).stored == 1
    assert load_embeddings(session, [], model.name)[0] == []
