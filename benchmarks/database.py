"""A throwaway database for a benchmark, created and dropped on the benchmark server.

The server is NEWSLETTER_BENCH_DATABASE_URL, else NEWSLETTER_TEST_DATABASE_URL, else the embedded
PostgreSQL the tests use (started under var/test-services if it is not running).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from newsletter import migrations, services
from newsletter.config import Settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def server_url() -> str:
    configured = os.environ.get("NEWSLETTER_BENCH_DATABASE_URL") or os.environ.get(
        "NEWSLETTER_TEST_DATABASE_URL"
    )
    if configured:
        return configured
    embedded = Settings(_env_file=None, data_dir=PROJECT_ROOT / "var" / "test-services")  # type: ignore[call-arg]
    return services.resolve_service_urls(embedded).database_url


@contextmanager
def throwaway_database(prefix: str) -> Iterator[str]:
    """Create a migrated database, yield its URL, drop it afterwards."""
    server = server_url()
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = (
        make_url(server)
        .set(drivername="postgresql", database="postgres")
        .render_as_string(hide_password=False)
    )
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        migrations.upgrade(url)
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
