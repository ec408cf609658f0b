"""The screenshots in docs/screenshots/: the served demo's home page, a reader's preference page and one
email, in light and dark. Run against `newsletter demo` (any port): python tools/screenshots.py URL."""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

from newsletter.config import Settings
from newsletter.db import make_engine, make_session_factory, session_scope
from newsletter.links.urls import preferences_url
from newsletter.services import resolve_service_urls
from newsletter.subscribers.service import find_subscriber_by_email

OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}


def main(base: str) -> None:
    settings = Settings().model_copy(update={"public_base_url": base})
    factory = make_session_factory(make_engine(resolve_service_urls(settings).database_url))
    with session_scope(factory) as session:
        reader = find_subscriber_by_email(session, "ada@demo.example")
        assert reader is not None, "run `newsletter demo` first"
        preferences = preferences_url(settings, reader.id)
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        for scheme in ("light", "dark"):
            page = browser.new_page(viewport=VIEWPORT, color_scheme=scheme)
            page.goto(base + "/")
            page.screenshot(path=OUT / f"home-{scheme}.png")
            page.goto(preferences)
            page.screenshot(path=OUT / f"preferences-{scheme}.png")
            page.goto(base + "/outbox")
            page.locator("ol.outbox li", has_text="ada@demo.example").first.get_by_role("link").click()
            page.screenshot(path=OUT / f"email-{scheme}.png")
            page.close()
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1].rstrip("/"))
