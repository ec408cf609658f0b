"""Static files under content-hashed names: a changed file gets a new URL, so every URL can be cached
for a year. Pages link through `static_url`; the plain names keep working with a short cache."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
IMMUTABLE = "public, max-age=31536000, immutable"
SHORT_CACHE = "public, max-age=3600"


@dataclass(frozen=True)
class Asset:
    path: Path
    hashed_name: str


@lru_cache(maxsize=1)
def assets() -> dict[str, Asset]:
    """Every static file by its plain name (`site.css`), with its hashed one (`site.3f2a9c1b7e04.css`)."""
    found = {}
    for path in sorted(STATIC_DIR.iterdir()):
        if path.is_file():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
            found[path.name] = Asset(path, f"{path.stem}.{digest}{path.suffix}")
    return found


@lru_cache(maxsize=1)
def assets_by_hashed_name() -> dict[str, Asset]:
    return {asset.hashed_name: asset for asset in assets().values()}


def static_url(name: str) -> str:
    return f"/static/{assets()[name].hashed_name}"


def find_asset(name: str) -> tuple[Asset, str] | None:
    """The file a static URL names, and how long it may be cached; None if there is none."""
    if name in assets_by_hashed_name():
        return assets_by_hashed_name()[name], IMMUTABLE
    if name in assets():
        return assets()[name], SHORT_CACHE
    return None
