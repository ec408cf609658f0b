"""CSRF protection for browser forms: a random cookie and, in each form, an HMAC of it (double submit).

Not used on the RFC 8058 one-click endpoint (mail providers post without cookies) nor on the webhook.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from fastapi import HTTPException, Request

from newsletter.config import Settings

COOKIE_NAME = "newsletter_csrf"
FIELD_NAME = "csrf_token"
COOKIE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")


def form_token(settings: Settings, cookie_value: str) -> str:
    key = settings.secret_key.get_secret_value().encode()
    return hmac.new(key, f"csrf:{cookie_value}".encode(), hashlib.sha256).hexdigest()


def masked_form_token(settings: Settings, cookie_value: str) -> str:
    """The form token under a fresh random mask (mask, then token XOR mask, in hex): pages are compressed,
    and a secret that repeats byte for byte beside reflected input (a search) could be guessed from the
    compressed size (BREACH). Masked, it differs in every response."""
    token = bytes.fromhex(form_token(settings, cookie_value))
    mask = secrets.token_bytes(len(token))
    return mask.hex() + bytes(a ^ b for a, b in zip(token, mask, strict=True)).hex()


def unmasked(submitted: str) -> str:
    """The form token inside a masked one; a bare (unmasked) token is returned as it is."""
    if len(submitted) != 128:
        return submitted
    try:
        raw = bytes.fromhex(submitted)
    except ValueError:
        return submitted
    return bytes(a ^ b for a, b in zip(raw[:32], raw[32:], strict=True)).hex()


def cookie_for(request: Request) -> tuple[str, bool]:
    """The request's CSRF cookie value, and whether it is new (must be set on the response)."""
    value = request.cookies.get(COOKIE_NAME, "")
    if COOKIE_PATTERN.match(value):
        return value, False
    return secrets.token_urlsafe(32), True


async def require_csrf(request: Request) -> None:
    """Dependency for every browser form POST: 403 unless the form's token matches the cookie."""
    settings: Settings = request.app.state.settings
    cookie = request.cookies.get(COOKIE_NAME, "")
    form = await request.form()
    submitted = form.get(FIELD_NAME)
    if (
        not COOKIE_PATTERN.match(cookie)
        or not isinstance(submitted, str)
        or not hmac.compare_digest(unmasked(submitted), form_token(settings, cookie))
    ):
        raise HTTPException(
            status_code=403,
            detail="This form has expired or was not sent from our site. Please reload the page and try again.",
        )
