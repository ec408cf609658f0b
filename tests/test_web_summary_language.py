"""The summary language on the preference center: offered only with an LLM configured, strictly checked."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.links import urls as links
from newsletter.subscribers.service import subscriber_view
from newsletter.web.app import create_app
from tests.factories import make_subscriber
from tests.web_fixtures import ALICE_IP, BASE_URL, post_form

FORM = {
    "topics": ["NLP"],
    "keywords": "retrieval",
    "frequency": "daily",
    "send_time": "07:00",
    "timezone": "UTC",
}


@pytest.fixture
def alice_id(committed_session_factory: sessionmaker[Session]) -> int:
    with session_scope(committed_session_factory) as session:
        return make_subscriber(session, "alice@example.org", topics=["NLP"], keywords=["retrieval"]).id


def client_for(settings: Settings) -> TestClient:
    return TestClient(
        create_app(settings, signup_answer_seconds=0), base_url=BASE_URL, client=(ALICE_IP, 50000)
    )


@pytest.fixture
def llm_settings(settings: Settings) -> Settings:
    # Nothing is summarized here: the page only needs to know an LLM is configured.
    return settings.model_copy(update={"summarizer": "llm", "llm_base_url": "http://127.0.0.1:9/v1"})


@pytest.fixture
def llm_client(llm_settings: Settings, redis_client: object) -> Iterator[TestClient]:
    with client_for(llm_settings) as client:
        yield client


@pytest.fixture
def offline_client(settings: Settings, redis_client: object) -> Iterator[TestClient]:
    with client_for(settings) as client:
        yield client


def preferences_path(settings: Settings, subscriber_id: int) -> str:
    return links.preferences_url(settings, subscriber_id).removeprefix(BASE_URL)


def stored(factory: sessionmaker[Session], subscriber_id: int) -> tuple[str, list[str], list[str]]:
    with session_scope(factory) as session:
        view = subscriber_view(session, subscriber_id)
    return view.summary_language, view.topic_names, view.keywords


def test_without_an_llm_the_language_is_not_offered_and_a_posted_one_is_ignored(
    offline_client: TestClient, settings: Settings, committed_session_factory, alice_id: int
) -> None:
    path = preferences_path(settings, alice_id)
    page = offline_client.get(path)
    assert page.status_code == 200 and 'name="summary_language"' not in page.text

    response = post_form(offline_client, path, {**FORM, "summary_language": "fr"}, follow_redirects=False)

    assert response.status_code == 303
    assert stored(committed_session_factory, alice_id)[0] == "en"


def test_with_an_llm_a_reader_picks_the_language_of_their_summaries(
    llm_client: TestClient, llm_settings: Settings, committed_session_factory, alice_id: int
) -> None:
    path = preferences_path(llm_settings, alice_id)
    page = llm_client.get(path)
    assert 'name="summary_language"' in page.text
    assert '<option value="fr" lang="fr">Français</option>' in page.text
    assert '<option value="en" lang="en" selected>English</option>' in page.text

    response = post_form(llm_client, path, {**FORM, "summary_language": "fr"}, follow_redirects=False)

    assert response.status_code == 303
    assert stored(committed_session_factory, alice_id)[0] == "fr"
    assert '<option value="fr" lang="fr" selected>Français</option>' in llm_client.get(path).text


@pytest.mark.parametrize(
    "language", ["xx", "FR", "fr\x00", "<script>alert(1)</script>", "{{7*7}}", "%%unsubscribe%%", "français"]
)
def test_a_language_not_on_the_list_gets_a_field_error_and_changes_nothing(
    llm_client: TestClient, llm_settings: Settings, committed_session_factory, alice_id: int, language: str
) -> None:
    path = preferences_path(llm_settings, alice_id)
    before = stored(committed_session_factory, alice_id)

    response = post_form(
        llm_client,
        path,
        {**FORM, "topics": ["Robotics"], "keywords": "agents", "summary_language": language},
        follow_redirects=False,
    )

    assert response.status_code == 422
    assert (
        'id="summary_language-error"' in response.text and "Choose a language from the list." in response.text
    )
    assert "<script>alert" not in response.text
    # Neither the language nor anything else of the form was saved.
    assert stored(committed_session_factory, alice_id) == before
