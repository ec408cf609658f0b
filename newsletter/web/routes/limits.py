"""The page shown when a rate limit is reached."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from newsletter.web.pages import render


def too_many(request: Request) -> HTMLResponse:
    return render(
        request,
        "error.html",
        {
            "title": "Too many attempts",
            "message": "Too many requests from your network. Please try again later.",
        },
        status_code=429,
    )
