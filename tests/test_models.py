"""Constraints that make the work idempotent hold in the real database."""

from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from newsletter.models import Delivery, Edition, Paper, Subscriber, Topic


def add_subscriber(session: Session, email: str) -> Subscriber:
    subscriber = Subscriber(email=email)
    session.add(subscriber)
    session.flush()
    return subscriber


def test_subscriber_email_is_unique_whatever_its_case(session: Session) -> None:
    add_subscriber(session, "alice@example.org")
    with pytest.raises(IntegrityError, match="uq_subscribers_email_lower"):
        add_subscriber(session, "Alice@Example.ORG")


def test_subscriber_status_must_be_known(session: Session) -> None:
    with pytest.raises(IntegrityError, match="ck_subscribers_status"):
        session.add(Subscriber(email="bob@example.org", status="maybe"))
        session.flush()


def test_one_edition_per_subscriber_per_date(session: Session) -> None:
    alice = add_subscriber(session, "alice@example.org")
    session.add(Edition(subscriber_id=alice.id, edition_date=date(2026, 11, 20), kind="nothing_new"))
    session.flush()
    session.add(Edition(subscriber_id=alice.id, edition_date=date(2026, 11, 21), kind="nothing_new"))
    session.flush()
    with pytest.raises(IntegrityError, match="uq_editions_subscriber_id_edition_date"):
        session.add(Edition(subscriber_id=alice.id, edition_date=date(2026, 11, 20), kind="nothing_new"))
        session.flush()


def test_at_most_one_delivery_per_edition(session: Session) -> None:
    alice = add_subscriber(session, "alice@example.org")
    edition = Edition(subscriber_id=alice.id, edition_date=date(2026, 11, 20), kind="nothing_new")
    session.add(edition)
    session.flush()
    # Emails outside editions (confirmations) are not limited by the edition rule.
    session.add_all([Delivery(subscriber_id=alice.id, kind="confirmation") for _ in range(2)])
    session.add(Delivery(subscriber_id=alice.id, edition_id=edition.id))
    session.flush()
    with pytest.raises(IntegrityError, match="uq_deliveries_edition_id"):
        session.add(Delivery(subscriber_id=alice.id, edition_id=edition.id))
        session.flush()


def test_paper_search_vector_is_stemmed(session: Session) -> None:
    session.add(
        Paper(
            arxiv_id="2611.00001",
            title="Gradient noise and its effects",
            abstract="Error accumulates over long horizons.",
        )
    )
    session.flush()
    query = select(Paper.arxiv_id).where(
        Paper.search_vector.op("@@")(func.websearch_to_tsquery("english", "accumulation"))
    )
    assert session.execute(query).scalars().all() == ["2611.00001"]


def test_the_taxonomy_is_seeded(session: Session) -> None:
    names = set(session.execute(select(Topic.name)).scalars())
    assert len(names) == 15
    assert {"Large Language Models", "Audio & Speech", "Federated Learning"} <= names


def test_an_edition_with_papers_must_point_at_its_content(session: Session) -> None:
    alice = add_subscriber(session, "alice@example.org")
    with pytest.raises(IntegrityError, match="ck_editions_content_matches_kind"):
        session.add(Edition(subscriber_id=alice.id, edition_date=date(2026, 11, 20), kind="papers"))
        session.flush()


def test_every_connection_of_the_product_runs_without_jit(engine) -> None:
    # JIT compiling the edition queries cost more than running them (docs/benchmarks.md).
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SHOW jit").scalar_one() == "off"
