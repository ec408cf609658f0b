"""Test fixtures on real services.

PostgreSQL and Redis come from NEWSLETTER_TEST_DATABASE_URL / NEWSLETTER_TEST_REDIS_URL when set (CI points
them at the machine's servers), otherwise from the embedded servers under var/test-services. Each test run
creates its own database (dropped at the end) and its own Redis key prefix, so two runs at once never
collide; each test runs inside a rolled-back transaction, so tests never share state.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from newsletter import migrations, services
from newsletter.config import Settings
from newsletter.db import make_engine, make_session_factory
from tests.browser_fixtures import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from tests.databases import create_database, drop_database

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
RUN_ID = secrets.token_hex(4)
# Tables whose rows come from migrations and survive a truncate between tests.
SEEDED_TABLES = {"topics", "alembic_version"}


@pytest.fixture(scope="session")
def server_urls() -> services.ServiceUrls:
    database_url = os.environ.get("NEWSLETTER_TEST_DATABASE_URL") or None
    redis_url = os.environ.get("NEWSLETTER_TEST_REDIS_URL") or None
    if database_url is None or redis_url is None:
        embedded = Settings(
            _env_file=None,  # type: ignore[call-arg]
            data_dir=PROJECT_ROOT / "var" / "test-services",
            database_url=database_url,
            redis_url=redis_url,
        )
        return services.resolve_service_urls(embedded)
    return services.ServiceUrls(database_url=database_url, redis_url=redis_url)


@pytest.fixture(scope="session")
def database_url(server_urls: services.ServiceUrls) -> Iterator[str]:
    """A database of this test run's own, migrated to head once."""
    name = f"newsletter_test_{RUN_ID}"
    url = create_database(server_urls.database_url, name)
    migrations.upgrade(url)
    yield url
    drop_database(server_urls.database_url, name)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session inside an outer transaction that is rolled back after the test.

    Code under test may commit: with create_savepoint, its commits release savepoints only.
    """
    connection = engine.connect()
    outer = connection.begin()
    db_session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    yield db_session
    db_session.close()
    outer.rollback()
    connection.close()


@pytest.fixture
def committed_session_factory(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """Sessions that really commit, for tests across processes or connections; tables emptied after."""
    yield make_session_factory(engine)
    with engine.begin() as conn:
        tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars()
        names = [name for name in tables if name not in SEEDED_TABLES]
        if names:
            conn.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))


@pytest.fixture
def redis_prefix(request: pytest.FixtureRequest) -> str:
    return f"nltest:{RUN_ID}:{secrets.token_hex(4)}:"


@pytest.fixture
def redis_client(server_urls: services.ServiceUrls, redis_prefix: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(server_urls.redis_url)
    yield client
    keys = list(client.scan_iter(match=f"{redis_prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def settings(
    database_url: str, server_urls: services.ServiceUrls, redis_prefix: str, tmp_path: Path
) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        data_dir=tmp_path / "var",
        database_url=database_url,
        redis_url=server_urls.redis_url,
        redis_prefix=redis_prefix,
        secret_key="test-secret-key-that-is-long-enough-0123456789",
        public_base_url="https://papers.example.org",
        outbox_dir=tmp_path / "outbox",
    )


@pytest.fixture
def child_environment(settings: Settings) -> dict[str, str]:
    """NEWSLETTER_* variables that make a child process (worker, CLI) use the test's settings."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("NEWSLETTER_")}
    env.update(
        {
            "NEWSLETTER_ENVIRONMENT": settings.environment,
            "NEWSLETTER_DATA_DIR": str(settings.data_dir),
            "NEWSLETTER_DATABASE_URL": settings.database_url or "",
            "NEWSLETTER_REDIS_URL": settings.redis_url or "",
            "NEWSLETTER_REDIS_PREFIX": settings.redis_prefix,
            "NEWSLETTER_SECRET_KEY": settings.secret_key.get_secret_value(),
            "NEWSLETTER_PUBLIC_BASE_URL": settings.public_base_url,
            "NEWSLETTER_OUTBOX_DIR": str(settings.resolved_outbox_dir),
        }
    )
    return env


@pytest.fixture
def command_env(
    monkeypatch: pytest.MonkeyPatch, child_environment: dict[str, str]
) -> Iterator[pytest.MonkeyPatch]:
    """The `newsletter` command run in-process (CliRunner) with the test's settings."""
    from newsletter.config import get_settings

    for key, value in child_environment.items():
        if key.startswith("NEWSLETTER_"):
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("NEWSLETTER_ARXIV_MIN_INTERVAL_S", "0.01")
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


@pytest.fixture
def chromium(record_property: Any) -> Iterator[Any]:
    """The system Chromium under Playwright, for the browser tests; each test records the screenshot
    folder as its `screenshots` property in pytest's JUnit report. Ask for the server fixture before this
    one, so the server is up before the browser and stops after it."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    record_property("screenshots", str(ARTIFACTS))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[timedelta], None]:
    """Moves the wall clock (time.time, which signed tokens read) forward by the given amount."""
    real_time = time.time

    def move(by: timedelta) -> None:
        monkeypatch.setattr(time, "time", lambda: real_time() + by.total_seconds())

    return move
