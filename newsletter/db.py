"""Engine, session factory and the transaction scope every edge (task, request, command) opens."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.services import resolve_service_urls


def make_engine(database_url: str, **options: object) -> Engine:
    # pre_ping: a Postgres restart or a dropped connection costs one reconnect, not a failed task.
    return create_engine(database_url, pool_pre_ping=True, **options)  # type: ignore[arg-type]


@lru_cache(maxsize=4)
def _engine_for(database_url: str) -> Engine:
    return make_engine(database_url)


def get_engine(settings: Settings) -> Engine:
    return _engine_for(resolve_service_urls(settings).database_url)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: committed if the block succeeds, rolled back if it raises."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
