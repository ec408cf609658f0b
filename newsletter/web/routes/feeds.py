"""Atom feeds over HTTP, with ETag / Last-Modified and 304 answers for feed readers that poll."""

from __future__ import annotations

from datetime import UTC
from email.utils import format_datetime, parsedate_to_datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response

from newsletter.errors import NotFound
from newsletter.feeds.atom import AtomDocument, private_feed, trending_feed
from newsletter.links.tokens import read_token
from newsletter.models.subscriber import SUPPRESSED_STATUSES
from newsletter.subscribers.service import subscriber_view
from newsletter.subscribers.validation import topic_choices
from newsletter.web.deps import SessionDep, SettingsDep

router = APIRouter()
ATOM = "application/atom+xml; charset=utf-8"


def is_unchanged(request: Request, document: AtomDocument) -> bool:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        return document.etag in [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    if_modified_since = request.headers.get("if-modified-since")
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        return since.tzinfo is not None and document.updated.replace(microsecond=0) <= since
    return False


def atom_response(request: Request, document: AtomDocument, cache_control: str) -> Response:
    headers = {
        "etag": document.etag,
        "last-modified": format_datetime(document.updated.astimezone(UTC), usegmt=True),
        "cache-control": cache_control,
    }
    if is_unchanged(request, document):
        return Response(status_code=304, headers=headers)
    return Response(document.body, media_type=ATOM, headers=headers)


@router.api_route("/feeds/trending.atom", methods=["GET", "HEAD"])
def trending_atom(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    return atom_response(request, trending_feed(session, settings), "public, max-age=900")


@router.api_route("/feeds/topics/{slug}.atom", methods=["GET", "HEAD"])
def topic_atom(request: Request, slug: str, session: SessionDep, settings: SettingsDep) -> Response:
    topic = next((topic for topic in topic_choices(session) if topic.slug == slug), None)
    if topic is None:
        raise NotFound("There is no such topic.")
    return atom_response(request, trending_feed(session, settings, topic), "public, max-age=900")


@router.api_route("/feeds/private/{token}.atom", methods=["GET", "HEAD"])
def private_atom(request: Request, token: str, session: SessionDep, settings: SettingsDep) -> Response:
    # The feed token reads this feed and nothing else (its own purpose, its own salt).
    subscriber_id = read_token(settings, "feed", token).subject_id
    # NotFound once the subscriber is deleted, and while they are unsubscribed (or their address bounced or
    # complained): a feed's address, once given out, cannot be taken back, and leaving should end it.
    if subscriber_view(session, subscriber_id).status in SUPPRESSED_STATUSES:
        raise NotFound("This feed ended with the subscription.")
    self_url = settings.public_base_url.rstrip("/") + request.url.path
    response = atom_response(
        request, private_feed(session, settings, subscriber_id, self_url), "private, max-age=900"
    )
    response.headers["x-robots-tag"] = "noindex, nofollow"
    return response
