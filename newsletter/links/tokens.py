"""Signed tokens for the links in emails, each bound to one purpose.

A token signed for one purpose (say, confirming) never validates for another (say, unsubscribing):
each purpose has its own salt. Confirmation links expire after 7 days; unsubscribe and preference links
keep working for a year, well past the 30 days the law asks of an opt-out link. Edition ("view in
browser") links are forwarded with the email and expire after `edition_link_days` (90); the link that
downloads or deletes a subscriber's data is only ever sent on request and lasts `data_link_hours` (24).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from newsletter.config import Settings
from newsletter.errors import InvalidToken

Purpose = Literal["confirm", "preferences", "unsubscribe", "edition", "feed", "data", "feedback"]

FIXED_MAX_AGE: dict[Purpose, timedelta] = {
    "confirm": timedelta(days=7),
    "preferences": timedelta(days=365),
    "unsubscribe": timedelta(days=365),
    # A feed reader keeps polling the address it was given; the token only reads the subscriber's feed.
    "feed": timedelta(days=3650),
    # Votes on papers from an old email still mean something; the token grants nothing but voting.
    "feedback": timedelta(days=730),
}


def max_age(settings: Settings, purpose: Purpose) -> timedelta:
    if purpose == "edition":
        return timedelta(days=settings.edition_link_days)
    if purpose == "data":
        return timedelta(hours=settings.data_link_hours)
    return FIXED_MAX_AGE[purpose]


@dataclass(frozen=True)
class TokenPayload:
    purpose: Purpose
    subject_id: int
    # When the link was signed (whole seconds): a confirmation link older than the latest signup is stale.
    issued_at: datetime


def _serializer(settings: Settings, purpose: Purpose) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key.get_secret_value(), salt=f"newsletter.{purpose}")


def make_token(settings: Settings, purpose: Purpose, subject_id: int) -> str:
    """A URL-safe token naming a subscriber (or, for `edition`, an edition) for one purpose."""
    return _serializer(settings, purpose).dumps({"id": subject_id})


def read_token(settings: Settings, purpose: Purpose, token: str) -> TokenPayload:
    """The id the token names; InvalidToken if tampered with, expired, or made for another purpose."""
    try:
        data, issued_at = _serializer(settings, purpose).loads(
            token, max_age=int(max_age(settings, purpose).total_seconds()), return_timestamp=True
        )
    except SignatureExpired as error:
        raise InvalidToken(f"this {purpose} link has expired") from error
    except BadSignature as error:
        raise InvalidToken(f"this {purpose} link is not valid") from error
    if not isinstance(data, dict) or not isinstance(data.get("id"), int):
        raise InvalidToken(f"this {purpose} link is not valid")
    return TokenPayload(purpose=purpose, subject_id=data["id"], issued_at=issued_at)


def read_expired_token(settings: Settings, purpose: Purpose, token: str) -> TokenPayload | None:
    """The payload of a token that is genuinely ours but too old (so a page can offer a fresh link);
    None if it is still valid, tampered with, or made for another purpose."""
    try:
        read_token(settings, purpose, token)
    except InvalidToken as error:
        if not isinstance(error.__cause__, SignatureExpired):
            return None
    else:
        return None
    data, issued_at = _serializer(settings, purpose).loads(token, return_timestamp=True)
    if not isinstance(data, dict) or not isinstance(data.get("id"), int):
        return None
    return TokenPayload(purpose=purpose, subject_id=data["id"], issued_at=issued_at)
