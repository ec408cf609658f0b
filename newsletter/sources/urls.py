"""Outside URLs (arXiv abstract and PDF links, GitHub repositories, project pages, Hugging Face thumbnails)
checked before storing.

A URL from a feed ends up as a link in every reader's email and on the site, so only plain web
addresses are kept: http or https, a real host name, no user name or password (`https://bank.example@
evil.example/` reads as the bank's), no spaces or control characters, and a bounded length. Anything
else is dropped with a log line and never stored. A thumbnail is an image every visitor's browser loads
from its host, so it is held tighter still: https, one of Hugging Face's thumbnail hosts (the only outside
hosts the site's Content-Security-Policy lets images come from), an image path, no query.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit, urlunsplit

from newsletter.plaintext.characters import BIDI, CONTROLS, INVISIBLE, INVISIBLE_BEYOND_BMP

logger = logging.getLogger(__name__)

MAX_URL_CHARS = 2048
# One DNS label of an (IDNA-encoded) host name; a real host has at least two and a letter in the last.
HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
TOP_LEVEL_LABEL = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")
# Whitespace, and every character no reader may be shown (`plaintext.characters`), joiners included: none
# belongs in a web address.
UNSAFE_CHARACTERS = re.compile(f"[\\s{CONTROLS}{BIDI}{INVISIBLE}{INVISIBLE_BEYOND_BMP}\u200c\u200d]")


def url_problem(value: str) -> str | None:
    """Why `value` is not a web address fit to be stored and linked to, or None if it is."""
    if len(value) > MAX_URL_CHARS:
        return f"longer than {MAX_URL_CHARS} characters"
    if UNSAFE_CHARACTERS.search(value):
        return "holds spaces, control or invisible characters"
    try:
        parts = urlsplit(value)
        port = parts.port  # raises on a port that is not a number in range
    except ValueError as error:
        return f"cannot be parsed ({error})"
    if parts.scheme.lower() not in ("http", "https"):
        return f"scheme {parts.scheme or '(none)'!r} is not http or https"
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return "carries a user name or password"
    host = (parts.hostname or "").rstrip(".")
    try:
        labels = host.encode("idna").decode("ascii").split(".") if host else []
    except UnicodeError:
        return f"host {host!r} is not a valid domain name"
    if len(labels) < 2 or not all(HOST_LABEL.match(label) for label in labels):
        return f"host {host!r} is not a domain name"
    if not TOP_LEVEL_LABEL.match(labels[-1]):
        return f"host {host!r} has no real top-level domain"
    if port == 0:
        return "port 0"
    return None


def checked_url(
    value: str | None, field_name: str, item_ref: str, *, hosts: tuple[str, ...] = ()
) -> str | None:
    """`value` stripped, its host in ASCII, if it is a fit web address (on one of `hosts`, when given);
    otherwise None, logged with the item and field."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    problem = url_problem(value)
    if problem is None and hosts and (urlsplit(value).hostname or "").rstrip(".") not in hosts:
        problem = f"not on {' or '.join(hosts)}"
    if problem is None:
        return ascii_host(value)
    logger.warning("%s: %s dropped: %s (%r)", item_ref, field_name, problem, value[:200])
    return None


def ascii_host(value: str) -> str:
    """A checked URL with its host IDNA-encoded: `https://arxіv.org/` (a Cyrillic і) reads as arXiv in a
    link's text; as `https://xn--arxv-…` it reads as what it is. The link leads to the same place."""
    parts = urlsplit(value)
    host = parts.hostname or ""
    if host.isascii():
        return value
    netloc = host.encode("idna").decode("ascii") + (f":{parts.port}" if parts.port is not None else "")
    return urlunsplit(parts._replace(netloc=netloc))


# Hugging Face Daily Papers' `thumbnail`: https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/<id>.png
THUMBNAIL_HOSTS = ("cdn-thumbnails.huggingface.co",)
MAX_THUMBNAIL_URL_CHARS = 300
THUMBNAIL_PATH = re.compile(
    r"^/social-thumbnails/papers/[A-Za-z0-9][A-Za-z0-9_-]*(?:[./][A-Za-z0-9_-]+)*\.(?:png|jpe?g|webp)$"
)


def thumbnail_problem(value: str) -> str | None:
    """Why `value` is not a Hugging Face paper thumbnail the site may show, or None if it is."""
    if len(value) > MAX_THUMBNAIL_URL_CHARS:
        return f"longer than {MAX_THUMBNAIL_URL_CHARS} characters"
    problem = url_problem(value)
    if problem is not None:
        return problem
    parts = urlsplit(value)
    if parts.scheme != "https":
        return "not https"
    if parts.hostname not in THUMBNAIL_HOSTS or parts.port is not None:
        return f"host {parts.netloc!r} is not a Hugging Face thumbnail host"
    if parts.query or parts.fragment or value.endswith(("?", "#")):
        return "carries a query or fragment"
    if not THUMBNAIL_PATH.match(parts.path):
        return "path is not an image under /social-thumbnails/papers/"
    return None


def checked_thumbnail_url(value: object, item_ref: str) -> str | None:
    """`value` if it is a thumbnail the site may show; otherwise None, logged with the item."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        logger.warning("%s: thumbnail dropped: a %s, not a string", item_ref, type(value).__name__)
        return None
    value = value.strip()
    problem = thumbnail_problem(value)
    if problem is None:
        return value
    logger.warning("%s: thumbnail dropped: %s (%r)", item_ref, problem, value[:200])
    return None
