"""The console script reports unreachable or unmigrated services in a sentence, not a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.databases import create_database, drop_database


def run_newsletter(env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "newsletter.cli", *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_database_that_does_not_exist_is_a_clear_error(child_environment: dict[str, str]) -> None:
    base = child_environment["NEWSLETTER_DATABASE_URL"].rsplit("/", 1)[0]
    env = child_environment | {"NEWSLETTER_DATABASE_URL": f"{base}/no_such_database_here"}

    result = run_newsletter(env, "stats")

    assert result.returncode == 1
    assert "PostgreSQL is not reachable or refused us" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_an_unmigrated_database_says_to_run_the_migrations(
    child_environment: dict[str, str], server_urls
) -> None:
    name = "newsletter_test_unmigrated_" + child_environment["NEWSLETTER_REDIS_PREFIX"].split(":")[2]
    url = create_database(server_urls.database_url, name)
    try:
        result = run_newsletter(child_environment | {"NEWSLETTER_DATABASE_URL": url}, "stats")
    finally:
        drop_database(server_urls.database_url, name)

    assert result.returncode == 1
    assert "newsletter db upgrade" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("command", "said"), [(["stats"], "Redis is not reachable"), (["services", "status"], "down")]
)
def test_an_unreachable_redis_is_a_clear_error(
    child_environment: dict[str, str], command: list[str], said: str
) -> None:
    env = child_environment | {"NEWSLETTER_REDIS_URL": "redis://127.0.0.1:1/0"}

    result = run_newsletter(env, *command)

    assert result.returncode == 1
    assert said in result.stderr + result.stdout
    assert "Traceback" not in result.stderr + result.stdout
