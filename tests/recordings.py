"""Loading the recorded provider answers under tests/fixtures (real responses, see shared SOURCES.md)."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ARXIV = FIXTURES / "arxiv"
HF = FIXTURES / "hf"
TEST_REDIS_URL = os.environ.get("NEWSLETTER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def arxiv_recording(name: str) -> tuple[int, bytes]:
    """(status, body) of an arxiv.py recording; the body was stored latin-1 round-tripped."""
    recording = json.loads((ARXIV / "arxiv.py_recorded" / name).read_text(encoding="utf-8"))
    return recording["status_code"], recording["body"].encode("latin-1")


def arxiv_xml(relative: str) -> bytes:
    return (ARXIV / relative).read_bytes()


def hf_recording(relative: str) -> bytes:
    return (HF / relative).read_bytes()


def load_corpus_papers() -> list[dict[str, object]]:
    """The 222 real papers (title, abstract, page date) the sample feed and benchmarks are built from."""
    return json.loads((FIXTURES / "corpus" / "papers.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@contextmanager
def shared_redis() -> Iterator[tuple[redis.Redis, str]]:
    """A real Redis and a key prefix of this test's own; its keys are deleted afterwards."""
    client = redis.Redis.from_url(TEST_REDIS_URL)
    prefix = f"nltest-sources:{secrets.token_hex(6)}:"
    try:
        yield client, prefix
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()
