"""The per-IP budget of the actions behind emailed links (confirm, preferences, unsubscribe)."""

from __future__ import annotations

from fastapi import Depends, HTTPException

from newsletter.web.csrf import require_csrf
from newsletter.web.deps import ClientIpDep, RateLimiterDep
from newsletter.web.ratelimit import LINK_ACTIONS_PER_IP


def require_link_action_budget(limiter: RateLimiterDep, ip: ClientIpDep) -> None:
    """Dependency of every form behind an emailed link: 429 once the IP's window is spent (tokens are
    unguessable, but a script replaying one link should not run unchecked)."""
    if not limiter.allow(LINK_ACTIONS_PER_IP, ip):
        raise HTTPException(
            status_code=429, detail="Too many requests from your network. Please try again later."
        )


# Every browser form behind an emailed link: a CSRF token, and the per-IP budget of link actions.
LINK_FORM_CHECKS = [Depends(require_csrf), Depends(require_link_action_budget)]
