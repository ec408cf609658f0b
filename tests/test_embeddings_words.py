"""Papers' word vectors: the packaged vocabulary, the same vectors scikit-learn's TfidfVectorizer gives,
awkward text, the command that builds the vocabulary, and reading them for stored papers."""

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from newsletter.cli import app
from newsletter.embeddings import load_vocabulary, load_word_vectors
from newsletter.embeddings.cli import DEFAULT_SOURCES, VOCABULARY_NAME
from newsletter.embeddings.model import MAX_CHARACTERS
from newsletter.embeddings.words import (
    build_vocabulary,
    load_vocabulary_from,
    paper_words_text,
    save_vocabulary,
    vocabulary_path,
)
from newsletter.sqlarrays import int4_vectors
from tests.factories import make_paper

CORPUS = Path(__file__).resolve().parent / "fixtures" / "corpus" / "papers.json"


def corpus_texts() -> list[str]:
    return [paper_words_text(paper["title"], paper["abstract"]) for paper in json.loads(CORPUS.read_text())]


def test_the_packaged_vocabulary_is_the_one_the_command_builds_from_the_bundled_papers(
    tmp_path: Path,
) -> None:
    result = CliRunner().invoke(app, ["embeddings", "words", "--output", str(tmp_path / "words.json")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "words.json").read_bytes() == vocabulary_path().read_bytes()
    vocabulary = load_vocabulary()
    assert vocabulary.name == VOCABULARY_NAME and vocabulary.size > 1500
    assert {"diffus", "quantiz", "reason", "bit"} <= set(vocabulary.terms)
    assert not {"the", "and", "we"} & set(vocabulary.terms)  # stop words are left out
    assert {"the", "we"} <= vocabulary.stop_words
    assert all(path.exists() for path in DEFAULT_SOURCES)


def test_the_forms_of_a_word_are_one_term_and_stop_words_none() -> None:
    vocabulary = load_vocabulary()
    assert vocabulary.analyze("Quantized models; quantizing weights; QUANTIZATION-aware training") == [
        "quantiz",
        "model",
        "quantiz",
        "weight",
        "quantiz",
        "awar",
        "train",
    ]
    assert vocabulary.analyze("We show that the and of") == []
    rows = vocabulary.vectors(["quantized", "quantization", "denoising", "denoiser"]).toarray()
    assert (rows[0] == rows[1]).all() and rows[0].any()
    assert (rows[2] == rows[3]).all() and rows[2].any()
    assert not (rows[0] == rows[2]).all()


def test_word_vectors_are_what_tfidf_vectorizer_gives_with_the_same_vocabulary() -> None:
    vocabulary = load_vocabulary()
    reference = TfidfVectorizer(
        analyzer=vocabulary.analyze, vocabulary=list(vocabulary.terms), sublinear_tf=True, dtype=np.float32
    )
    reference.fit(["placeholder"])
    reference.idf_ = vocabulary.idf
    texts = corpus_texts()[:60]
    ours = vocabulary.vectors(texts).toarray()
    expected = reference.transform(texts).toarray()
    np.testing.assert_allclose(ours, expected, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "日本語の要約です。",
        "$\\mathcal{O}(n^2)$ \\cite{x}",
        "x" * 1_000_000,
        "diffusion " * 200_000,
    ],
)
def test_awkward_text_gives_a_unit_or_zero_row_without_error(text: str) -> None:
    row = load_vocabulary().vectors([text]).toarray()[0]
    assert np.linalg.norm(row) == pytest.approx(1.0, abs=1e-5) or not row.any()


def test_a_long_text_counts_only_its_first_characters() -> None:
    vocabulary = load_vocabulary()
    head = "diffusion models denoise images. " * (MAX_CHARACTERS // 33 + 1)
    tail = " quantization" * 1000
    assert (vocabulary.vectors([head + tail]) != vocabulary.vectors([head])).nnz == 0


def test_the_same_texts_give_the_same_file_and_bad_files_give_a_clear_error(tmp_path: Path) -> None:
    vocabulary = build_vocabulary("test-words", corpus_texts())
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    save_vocabulary(vocabulary, first)
    save_vocabulary(build_vocabulary("test-words", list(reversed(corpus_texts()))), second)
    assert first.read_bytes() == second.read_bytes()
    loaded = load_vocabulary_from(first)
    assert loaded.terms == vocabulary.terms and np.allclose(loaded.idf, vocabulary.idf, atol=1e-6)
    assert loaded.stop_words == vocabulary.stop_words
    other = json.loads(first.read_text())
    other["stemmer"] = "porter"
    first.write_text(json.dumps(other))
    with pytest.raises(ValueError, match="another stemmer"):
        load_vocabulary_from(first)
    broken = tmp_path / "papers.json"
    broken.write_text('[{"title": "A paper"}]')
    result = CliRunner().invoke(
        app, ["embeddings", "words", str(broken), "--output", str(tmp_path / "w.json")]
    )
    assert result.exit_code == 1 and "needs a string title and abstract" in result.output
    assert not (tmp_path / "w.json").exists()
    broken.write_text("{not json")
    result = CliRunner().invoke(
        app, ["embeddings", "words", str(broken), "--output", str(tmp_path / "w.json")]
    )
    assert result.exit_code == 1 and str(broken) in result.output


def test_stored_papers_word_vectors_come_in_the_order_asked_and_unknown_ids_are_zero(
    session: Session,
) -> None:
    first = make_paper(session, title="Diffusion for images", abstract="A diffusion model denoises images.")
    second = make_paper(session, title="Quantized LLMs", abstract="Low-bit quantization of language models.")
    vocabulary = load_vocabulary()
    matrix = load_word_vectors(session, [second.id, 10**12, first.id], vocabulary)
    assert matrix.shape == (3, vocabulary.size)
    assert matrix[0, vocabulary.index["quantiz"]] > 0 and matrix[2, vocabulary.index["diffus"]] > 0
    assert matrix[1].nnz == 0


def test_integer_arrays_sent_by_postgres_decode_including_empty_ones(session: Session) -> None:
    from sqlalchemy import text

    for literal, expected in (("{3,1,2}", [3, 1, 2]), ("{}", []), ("{-7}", [-7])):
        sent = session.execute(text("SELECT array_send(CAST(:v AS integer[]))"), {"v": literal}).scalar_one()
        assert [vector.tolist() for vector in int4_vectors([sent])] == [expected]
    sent = [
        session.execute(text("SELECT array_send(CAST(:v AS integer[]))"), {"v": literal}).scalar_one()
        for literal in ("{1,2}", "{3,4}", "{}", "{5}")
    ]
    assert [v.tolist() for v in int4_vectors(sent[:2])] == [[1, 2], [3, 4]]  # one pass: equal lengths
    assert [v.tolist() for v in int4_vectors(sent)] == [[1, 2], [3, 4], [], [5]]
    assert [v.tolist() for v in int4_vectors([sent[2], sent[2]])] == [[], []]
    with pytest.raises(ValueError):
        int4_vectors([session.execute(text("SELECT array_send(ARRAY[1, NULL]::integer[])")).scalar_one()])
