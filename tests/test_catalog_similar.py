"""Similar papers are different papers (the vote page's and paper page's tests check the order and tags)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from newsletter.catalog.similar import similar_papers
from newsletter.embeddings import embed_pending, load_model
from tests.factories import ATTENTION_PAPERS, make_paper

FIRST = "2611.20001"
NEAREST = ("2611.20002", "2611.20003", "2611.20004", "2611.20005")  # the other attention papers
NEIGHBOUR = NEAREST[0]


def stored(session: Session, papers: dict[str, tuple[str, str]]) -> dict[str, int]:
    ids = {
        arxiv_id: make_paper(session, arxiv_id=arxiv_id, title=title, abstract=abstract).id
        for arxiv_id, (title, abstract) in papers.items()
    }
    embed_pending(session, load_model())
    return ids


def test_another_copy_of_a_paper_is_listed_once_and_a_copy_of_the_paper_itself_not_at_all(
    session: Session,
) -> None:
    """The same paper under two arXiv ids (a re-upload) is one paper to a reader."""
    copies = {"2611.20008": ATTENTION_PAPERS[NEIGHBOUR], "2611.20009": ATTENTION_PAPERS[FIRST]}
    ids = stored(session, ATTENTION_PAPERS | copies)
    titles = [paper.title for paper in similar_papers(session, ids[FIRST])]
    assert len(titles) == 5 and len(set(titles)) == 5
    assert ATTENTION_PAPERS[FIRST][0] not in titles
    assert titles.count(ATTENTION_PAPERS[NEIGHBOUR][0]) == 1
    # The other attention papers still come before the unrelated ones.
    assert set(titles[:4]) == {ATTENTION_PAPERS[arxiv_id][0] for arxiv_id in NEAREST}
