"""The topic taxonomy shipped with the package: 15 tags, each with what it covers."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources


@cache
def load_taxonomy() -> dict[str, str]:
    text = resources.files("newsletter.tagging").joinpath("data/topics.json").read_text("utf-8")
    taxonomy: dict[str, str] = json.loads(text)
    return taxonomy


def topic_names() -> tuple[str, ...]:
    return tuple(load_taxonomy())


def is_known_topic(name: str) -> bool:
    return name in load_taxonomy()
