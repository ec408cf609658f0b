"""Creating and dropping throwaway databases on the test server; a real refusal by the database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url


def _admin_connect(database_url: str) -> psycopg.Connection:
    url = make_url(database_url).set(drivername="postgresql", database="postgres")
    return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)


def create_database(server_url: str, name: str) -> str:
    with _admin_connect(server_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, name: str) -> None:
    with _admin_connect(server_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def papers_trigger(engine: Engine, arxiv_id: str, action: str) -> Iterator[None]:
    """A real refusal by the database for one paper: a trigger that runs `action` when it is inserted."""
    with engine.begin() as connection:
        connection.execute(
            text(
                f"""
                CREATE FUNCTION refuse_one_paper() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF NEW.arxiv_id = '{arxiv_id}' THEN {action}; END IF;
                    RETURN NEW;
                END $$;
                CREATE TRIGGER refuse_one_paper BEFORE INSERT ON papers
                    FOR EACH ROW EXECUTE FUNCTION refuse_one_paper();
                """
            )
        )
    try:
        yield
    finally:
        with engine.begin() as connection:
            connection.execute(
                text("DROP TRIGGER refuse_one_paper ON papers; DROP FUNCTION refuse_one_paper()")
            )
