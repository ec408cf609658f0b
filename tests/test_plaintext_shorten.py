"""Shortened text ends at a clause or word boundary with "…", never inside a word, wherever it is shown."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from newsletter.plaintext.latex import latex_to_text
from newsletter.plaintext.shorten import ELLIPSIS, shorten
from tests.recordings import load_corpus_papers

ROOT = Path(__file__).resolve().parent.parent


def assert_whole_words(original: str, shortened: str, limit: int) -> None:
    folded = " ".join(original.split())
    assert len(shortened) <= limit
    if shortened == folded:
        return
    assert shortened.endswith(ELLIPSIS)
    head = shortened.removesuffix(ELLIPSIS)
    assert folded.startswith(head)
    following = folded[len(head) : len(head) + 1]
    # What was cut starts at a space, or at a hyphen/punctuation: never inside a word.
    assert not (following.isalnum() and head[-1:].isalnum()), (head[-20:], folded[len(head) : len(head) + 20])


def test_every_corpus_abstract_shortened_to_any_length_keeps_whole_words() -> None:
    for paper in load_corpus_papers()[:80]:
        text = latex_to_text(str(paper["abstract"]))
        for limit in (30, 57, 80, 121, 200, 333):
            assert_whole_words(text, shorten(text, limit), limit)


def test_a_cut_prefers_a_clause_boundary_and_never_ends_on_a_word_that_announces_more() -> None:
    text = "Sparse routing for mixture-of-experts models, trained with a load-balancing loss at scale"
    assert shorten(text, 60) == "Sparse routing for mixture-of-experts models…"
    assert shorten("Evidence for the problem that the method solves", 22) == "Evidence…"
    assert not shorten("Retrieval for the problem of long contexts in transformers", 30).endswith("the…")


def test_text_that_fits_is_only_whitespace_folded() -> None:
    assert shorten("  A   short\ttitle \n", 80) == "A short title"


def test_a_run_without_spaces_is_cut_at_the_limit() -> None:
    shortened = shorten("Model " + "x" * 5000, 100)
    assert len(shortened) == 100 and shortened.endswith("x…")


def paper(title: str) -> dict[str, object]:
    return {"title": title}


def subject_of(context: dict[str, object]) -> str:
    # The subject template alone: the renderer's environment, with `shorten` as its filter.
    from jinja2 import Environment, FileSystemLoader

    environment = Environment(loader=FileSystemLoader(ROOT / "templates" / "email"), autoescape=False)  # noqa: S701
    environment.filters["shorten"] = shorten
    return environment.get_template("edition.subject.txt").render(context).strip()


@pytest.mark.parametrize(
    "title",
    [
        "Retrieval for the problem that every long-context transformer meets when its cache grows past memory",
        "A" * 30 + " " + "Supercalifragilistic " * 6,
        "Short title",
    ],
)
def test_the_edition_subject_stays_under_eighty_characters_in_whole_words(title: str) -> None:
    context = {"paper_count": 3, "date_short": "Mon 7 Dec", "papers": [paper(title)]}
    subject = subject_of(context)
    assert len(subject) <= 80
    prefix = "3 trending papers for Mon 7 Dec: "
    assert subject.startswith(prefix)
    assert_whole_words(title, subject.removeprefix(prefix), 80 - len(prefix))


def test_no_template_or_module_shortens_text_any_other_way() -> None:
    templates = [path for path in (ROOT / "templates").rglob("*") if path.is_file()]
    assert not [path for path in templates if "truncate" in path.read_text(encoding="utf-8")]
    slicing = re.compile(r"\[:\s*(?:limit|MAX_\w+|\d+)\s*-\s*1\]")
    modules = [path for path in (ROOT / "newsletter").rglob("*.py")]
    assert not [path for path in modules if slicing.search(path.read_text(encoding="utf-8"))]


def test_the_email_renderer_gives_templates_the_shorten_filter() -> None:
    from newsletter.mail import render

    assert render._runtime_environment().filters["shorten"] is shorten
