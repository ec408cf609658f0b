"""Storing summaries in the real database: one query finds the pending papers, re-runs are no-ops."""

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from newsletter.models import Paper, PaperTopic, Summary, Topic
from newsletter.summaries.extractive import BACKEND_VERSION, ExtractiveSummarizer
from newsletter.summaries.hashing import input_hash
from newsletter.summaries.model import PaperText
from newsletter.summaries.store import input_hash_sql, papers_without_current_summary, summarize_pending

ABSTRACT = (
    "Federated learning trains models on private client data. However, heterogeneous clients slow training. "
    "We propose an aggregation rule that weights clients by their compute. The rule is applied on the server "
    "after every round. Experiments on CIFAR-10 show 2.5x faster convergence. This makes federated training "
    "practical on mixed devices."
)


def add_paper(
    session: Session, arxiv_id: str, title: str = "Compute-Aware Federated Aggregation", **fields
) -> Paper:
    paper = Paper(arxiv_id=arxiv_id, title=title, abstract=fields.pop("abstract", ABSTRACT), **fields)
    session.add(paper)
    session.flush()
    return paper


class CountingSummarizer(ExtractiveSummarizer):
    def __init__(self, failing_titles=()):
        self.calls = 0
        self.failing_titles = set(failing_titles)

    def summarize_many(self, papers):
        return [self.summarize(paper) for paper in papers]

    def summarize(self, paper):
        self.calls += 1
        if paper.title in self.failing_titles:
            raise RuntimeError(f"cannot summarize {paper.id}")
        return super().summarize(paper)


def test_sql_input_hash_matches_the_python_one_on_awkward_text(session: Session) -> None:
    paper = add_paper(
        session,
        "2611.10001",
        title="  Tabs\tand\nnewlines  in a   title ",
        abstract="Ünïcode — text,\r\n with  runs of\tspace. ",
        categories=["stat.ML", "cs.LG", "cs.AI", "Z.x"],
    )
    expected = input_hash(PaperText(paper.title, paper.abstract, tuple(paper.categories)), BACKEND_VERSION)

    computed = session.scalar(select(input_hash_sql(BACKEND_VERSION)).where(Paper.id == paper.id))

    assert computed == expected


def test_sql_input_hash_matches_for_a_paper_without_categories(session: Session) -> None:
    paper = add_paper(session, "2611.10002", abstract="")
    expected = input_hash(PaperText(paper.title, "", ()), "llm-1:m")

    assert session.scalar(select(input_hash_sql("llm-1:m")).where(Paper.id == paper.id)) == expected


def test_summarize_pending_stores_summaries_and_topic_links(session: Session) -> None:
    paper = add_paper(session, "2611.20001", categories=["cs.LG"])

    counts = summarize_pending(session, CountingSummarizer(), limit=10)

    assert (counts.selected, counts.stored, counts.failed) == (1, 1, 0)
    stored = session.scalars(select(Summary).where(Summary.paper_id == paper.id)).one()
    assert stored.backend == "extractive" and stored.backend_version == BACKEND_VERSION
    assert stored.input_hash == input_hash(PaperText(paper.title, ABSTRACT, ("cs.LG",)), BACKEND_VERSION)
    assert 3 <= len(stored.key_points) <= 4
    # The result is a key point (notes say what the paper finds, not the field's background), so the
    # results section says what else it found.
    assert "Experiments on CIFAR-10 show 2.5x faster convergence." in stored.key_points
    assert stored.results == "This makes federated training practical on mixed devices."
    assert stored.topics[0] == "Federated Learning"
    links = session.execute(
        select(Topic.name, PaperTopic.rank)
        .join(Topic, Topic.id == PaperTopic.topic_id)
        .where(PaperTopic.paper_id == paper.id)
        .order_by(PaperTopic.rank)
    ).all()
    assert [name for name, _ in links] == stored.topics


def test_a_second_run_is_a_no_op(session: Session) -> None:
    add_paper(session, "2611.30001")
    summarizer = CountingSummarizer()
    summarize_pending(session, summarizer, limit=10)

    again = summarize_pending(session, summarizer, limit=10)

    assert (again.selected, again.stored) == (0, 0)
    assert summarizer.calls == 1


def test_a_changed_abstract_is_summarized_again_and_relinked(session: Session) -> None:
    paper = add_paper(session, "2611.40001")
    summarize_pending(session, CountingSummarizer(), limit=10)
    session.execute(
        update(Paper)
        .where(Paper.id == paper.id)
        .values(
            title="Speech Recognition for Low-Resource Languages",
            abstract="We propose an ASR model for spoken audio in rare languages. It lowers word error rates. "
            "The speech model is trained on little audio. It helps speakers of rare languages.",
        )
    )
    session.expire_all()

    assert [p.id for p in papers_without_current_summary(session, BACKEND_VERSION, 10)] == [paper.id]
    counts = summarize_pending(session, CountingSummarizer(), limit=10)

    assert counts.stored == 1
    assert len(session.scalars(select(Summary).where(Summary.paper_id == paper.id)).all()) == 2
    linked = session.scalars(
        select(Topic.name)
        .join(PaperTopic, Topic.id == PaperTopic.topic_id)
        .where(PaperTopic.paper_id == paper.id)
    ).all()
    assert "Audio & Speech" in linked and "Federated Learning" not in linked


def test_a_new_backend_version_makes_every_paper_pending_again(session: Session) -> None:
    paper = add_paper(session, "2611.50001")
    summarize_pending(session, CountingSummarizer(), limit=10)

    assert papers_without_current_summary(session, BACKEND_VERSION, 10) == []
    assert [p.id for p in papers_without_current_summary(session, "llm-1:some-model", 10)] == [paper.id]


def test_one_failing_paper_is_counted_and_the_rest_are_stored(session: Session) -> None:
    add_paper(session, "2611.60001", title="Good One")
    bad = add_paper(session, "2611.60002", title="Bad One")
    add_paper(session, "2611.60003", title="Good Two")

    counts = summarize_pending(session, CountingSummarizer(failing_titles={"Bad One"}), limit=10)

    assert (counts.selected, counts.stored, counts.failed) == (3, 2, 1)
    assert counts.failed_paper_ids == [bad.id]
    assert [p.id for p in papers_without_current_summary(session, BACKEND_VERSION, 10)] == [bad.id]


def test_limit_bounds_a_chunk_and_the_next_chunk_continues(session: Session) -> None:
    for index in range(5):
        add_paper(session, f"2611.7000{index}", title=f"Paper number {index}")

    first = summarize_pending(session, CountingSummarizer(), limit=3)
    second = summarize_pending(session, CountingSummarizer(), limit=3)

    assert (first.stored, second.stored) == (3, 2)
    assert papers_without_current_summary(session, BACKEND_VERSION, 10) == []
