"""The public URLs the product puts in emails and pages, each carrying a signed token."""

from __future__ import annotations

from urllib.parse import quote

from newsletter.config import Settings
from newsletter.links.tokens import make_token


def _url(settings: Settings, path: str) -> str:
    return settings.public_base_url.rstrip("/") + path


def confirm_url(settings: Settings, subscriber_id: int) -> str:
    """Opens a page with a confirm button; only its POST activates the subscription."""
    return _url(settings, f"/confirm/{make_token(settings, 'confirm', subscriber_id)}")


def preferences_url(settings: Settings, subscriber_id: int) -> str:
    return _url(settings, f"/preferences/{make_token(settings, 'preferences', subscriber_id)}")


def data_url(settings: Settings, subscriber_id: int) -> str:
    """Download or delete one's data: sent only on request, to the address itself, and short-lived."""
    return _url(settings, f"/my-data/{make_token(settings, 'data', subscriber_id)}")


def unsubscribe_url(settings: Settings, subscriber_id: int) -> str:
    """The visible link in the email body: a page with a confirm button and a way back."""
    return _url(settings, f"/unsubscribe/{make_token(settings, 'unsubscribe', subscriber_id)}")


def one_click_unsubscribe_url(settings: Settings, subscriber_id: int) -> str:
    """The RFC 8058 List-Unsubscribe target: a POST of `List-Unsubscribe=One-Click` unsubscribes."""
    return _url(settings, f"/unsubscribe/{make_token(settings, 'unsubscribe', subscriber_id)}/one-click")


def edition_url(settings: Settings, edition_id: int) -> str:
    """ "View in browser": the archived edition."""
    return _url(settings, f"/editions/{make_token(settings, 'edition', edition_id)}")


def private_feed_url(settings: Settings, subscriber_id: int) -> str:
    """The subscriber's own Atom feed of their editions: the token reads that feed and nothing else."""
    return _url(settings, f"/feeds/private/{make_token(settings, 'feed', subscriber_id)}.atom")


def feedback_url(settings: Settings, subscriber_id: int) -> str:
    """The base of one reader's vote links; `vote_url` appends the vote and the paper."""
    return _url(settings, f"/feedback/{make_token(settings, 'feedback', subscriber_id)}")


def vote_url(feedback_base: str, vote: str, arxiv_id: str) -> str:
    """A "More like this" (up) or "Less like this" (down) link: opens a page, only its POST records."""
    return f"{feedback_base}/{vote}/{quote(arxiv_id, safe='')}"


def paper_url(settings: Settings, arxiv_id: str) -> str:
    return _url(settings, f"/papers/{quote(arxiv_id, safe='')}")


def site_url(settings: Settings, query: str = "") -> str:
    return _url(settings, "/" + (f"?{query}" if query else ""))
