"""Every email template rendered from a fixed context; hostile paper text stays inert; headers are safe."""

from __future__ import annotations

import email
import email.policy
import os
from datetime import time
from itertools import takewhile
from pathlib import Path
from typing import Any

import pytest

from newsletter.config import Settings
from newsletter.mail.context import recipient_links, schedule_words, words_list
from newsletter.mail.message import Recipient, build_message, clean_header_value
from newsletter.mail.render import EMAIL_NAMES, RenderedEmail, _runtime_environment, render_email
from newsletter.models import Subscriber

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
HOSTILE_TITLE = "<script>alert('x')</script> {{ 7*7 }} </table> \u202eevil\u200b\x00 end"


def paper(number: int, **overrides: Any) -> dict[str, Any]:
    values = {
        "arxiv_id": f"2611.0000{number}",
        "title": f"Sparse Retrieval Paper {number}",
        "url": f"https://papers.example.org/papers/2611.0000{number}",
        "authors": "Ada Lovelace, Alan Turing",
        "tags": ["NLP", "Retrieval"],
        "tldr": (
            {"text": "A sparse retriever that halves memory.", "source_label": "Hugging Face"}
            if number == 1
            else {"text": "Introduction of a sparse retriever.", "source_label": None}
        ),
        "key_points": ["The method halves memory.", "It beats the baseline on 5 of 6 tasks."],
        "reason": "NLP · keyword “retrieval” · 42 upvotes",
        "upvotes": 42,
        "is_update": number == 2,
        "version": number,
        "abs_url": f"https://arxiv.org/abs/2611.0000{number}",
        "pdf_url": f"https://arxiv.org/pdf/2611.0000{number}",
        "code_url": "https://github.com/example/sparse" if number == 1 else None,
        "vote_paths": {"up": f"/up/2611.0000{number}", "down": f"/down/2611.0000{number}"},
    }
    return values | overrides


# Fixed slot keys, so the fragments below can name them; real renderings draw fresh random ones.
LINK_SLOTS_USED = {
    "view_in_browser": "%%view_in_browser-k1%%",
    "preferences": "%%preferences-k1%%",
    "unsubscribe": "%%unsubscribe-k1%%",
    "feedback": "%%feedback-k1%%",
}


def edition_context(papers: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "kind": "papers",
        "edition_date": "2026-11-21",
        "date_label": "Saturday, 21 November 2026",
        "date_short": "Sat 21 Nov",
        "headline": f"{len(papers)} papers trending in your topics",
        "preheader": "Sparse Retrieval Paper 1 · Sparse Retrieval Paper 2",
        "papers": papers,
        "paper_count": len(papers),
        "overflow_count": 3,
        "links": {
            **LINK_SLOTS_USED,
            "site": "https://papers.example.org/",
        },
        "sender": {"name": "ML Papers Daily", "postal_address": "Newsletter, 1 Example Street, 10115 Berlin"},
        "footer_note": "",
        "link_slots": LINK_SLOTS_USED,
    }


def transactional_context(kind: str) -> dict[str, Any]:
    subscribed = kind in ("welcome", "manage")
    return {
        "email": "alice@example.org",
        "topics": ["NLP", "Computer Vision"],
        "topics_words": "NLP and Computer Vision",
        "schedule": "every Friday at 21:15 (Asia/Kolkata)",
        "preheader": "Hello",
        "links": {
            "confirm": "https://papers.example.org/confirm/TOKEN" if kind == "confirmation" else "",
            "preferences": "https://papers.example.org/preferences/TOKEN" if subscribed else "",
            "unsubscribe": "https://papers.example.org/unsubscribe/TOKEN" if subscribed else "",
            "data": "https://papers.example.org/my-data/TOKEN" if kind == "data_link" else "",
            "view_in_browser": "",
            "site": "https://papers.example.org/",
        },
        "sender": {"name": "ML Papers Daily", "postal_address": "Newsletter, 1 Example Street, 10115 Berlin"},
        "footer_note": "You receive this email because this address was entered on our sign-up form.",
        "data_link_hours": 24,
    }


def fixed_context(name: str) -> dict[str, Any]:
    if name == "edition":
        return edition_context([paper(1), paper(2)])
    if name == "nothing_new":
        return edition_context([]) | {"kind": "nothing_new", "overflow_count": 0}
    return transactional_context(name)


EXPECTED_FRAGMENTS = {
    "edition": ["Sparse Retrieval Paper 1", "NLP · keyword “retrieval” · 42 upvotes", "The method halves memory.",
                "https://arxiv.org/pdf/2611.00001", "https://github.com/example/sparse", "3 more papers in your topics did not fit this email",
                "%%unsubscribe-k1%%", "%%preferences-k1%%", "%%view_in_browser-k1%%"],
    "nothing_new": ["Nothing new in your topics today", "%%unsubscribe-k1%%", "%%preferences-k1%%"],
    "confirmation": ["Confirm", "https://papers.example.org/confirm/TOKEN", "alice@example.org",
                     "every Friday at 21:15 (Asia/Kolkata) with the", "trending in NLP and Computer Vision."],
    "welcome": ["Welcome to ML Papers Daily", "trending in NLP and Computer Vision every Friday at 21:15 (Asia/Kolkata),",
                "https://papers.example.org/unsubscribe/TOKEN"],
    "unsubscribed": ["You are unsubscribed", "alice@example.org", "https://papers.example.org/"],
    "manage": ["Manage your ML Papers Daily subscription", "alice@example.org", "already subscribed to NLP and Computer Vision",
               "https://papers.example.org/preferences/TOKEN"],
    "data_link": ["Download or delete your data", "https://papers.example.org/my-data/TOKEN", "24 hours"],
}  # fmt: skip


@pytest.mark.parametrize("name", EMAIL_NAMES)
def test_every_template_renders_its_fragments_in_text_and_html(name: str) -> None:
    rendered = render_email(name, fixed_context(name))
    assert rendered.subject and "\n" not in rendered.subject
    for fragment in EXPECTED_FRAGMENTS[name]:
        assert fragment in rendered.text, (name, fragment)
        assert fragment.replace("“", "“") in rendered.html, (name, fragment)
    # Every email carries the postal address; no Jinja tag survives into the output.
    for part in (rendered.text, rendered.html):
        assert "Newsletter, 1 Example Street, 10115 Berlin" in part
        assert "{{" not in part and "{%" not in part and "[%" not in part
    assert '<meta name="color-scheme" content="light dark"' in rendered.html
    assert "prefers-color-scheme: dark" in rendered.html


def test_the_edition_shows_each_paper_linked_with_tags_reasons_and_links() -> None:
    rendered = render_email("edition", fixed_context("edition"))
    html, text = rendered.html, rendered.text
    # The preheader is the inbox's preview line: hidden in the body, first in it.
    assert "Sparse Retrieval Paper 1 · Sparse Retrieval Paper 2" in html
    assert html.index("Sparse Retrieval Paper 1 · Sparse Retrieval Paper 2") < html.index("View in browser")
    assert '<a href="%%view_in_browser-k1%%">View in browser</a>' in html
    assert "View in browser: %%view_in_browser-k1%%" in text
    assert '<a href="https://papers.example.org/papers/2611.00001">Sparse Retrieval Paper 1</a>' in html
    assert '<span class="tag">NLP</span><span class="tag">Retrieval</span>' in html
    assert "Tags: NLP, Retrieval" in text
    for link in ('<a href="https://arxiv.org/abs/2611.00001">arXiv</a>',
                 '<a href="https://arxiv.org/pdf/2611.00001">PDF</a>',
                 '<a href="https://github.com/example/sparse">Code</a>'):  # fmt: skip
        assert link in html
    assert html.count(">Code</a>") == 1  # paper 2 has no code: no empty link
    assert "updated · v2" in html and "Sparse Retrieval Paper 2 [updated, v2]" in text
    assert "Why: NLP · keyword “retrieval” · 42 upvotes" in text
    assert '<a href="%%preferences-k1%%">' in html and '<a href="%%unsubscribe-k1%%">Unsubscribe</a>' in html


def test_edition_subject_names_the_count_and_first_title() -> None:
    rendered = render_email("edition", fixed_context("edition"))
    assert rendered.subject == "2 trending papers for Sat 21 Nov: Sparse Retrieval Paper 1"


def test_hostile_paper_text_is_escaped_in_html_and_literal_in_text() -> None:
    hostile = paper(
        1, title=HOSTILE_TITLE, key_points=["</table></td></tr> {% raw %}", "<img src=x onerror=1>"]
    )
    rendered = render_email("edition", edition_context([hostile, paper(2)]))
    assert "<script>" not in rendered.html and "<img src=x" not in rendered.html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in rendered.html
    assert "&lt;/table&gt;&lt;/td&gt;&lt;/tr&gt;" in rendered.html
    assert "{{ 7*7 }}" in rendered.html and "49" not in rendered.subject
    # The layout still closes: one body, the footer after the papers.
    assert rendered.html.count("</body>") == 1
    assert rendered.html.index("Sparse Retrieval Paper 2") < rendered.html.index("Unsubscribe")
    # Text is not HTML-escaped, but control characters, bidi overrides and invisible characters (a
    # zero-width space hides inside a word) are gone everywhere.
    assert "<script>alert('x')</script> {{ 7*7 }} </table>" in rendered.text
    for part in (rendered.subject, rendered.text, rendered.html):
        assert "\x00" not in part and "\u202e" not in part and "\u200b" not in part


def test_a_twenty_thousand_character_title_renders_without_breaking_the_layout() -> None:
    long_title = "x" * 20_000
    rendered = render_email("edition", edition_context([paper(1, title=long_title)]))
    assert long_title in rendered.html and rendered.html.count("</html>") == 1
    assert "word-break: break-word" in rendered.html or "word-break:break-word" in rendered.html
    assert len(rendered.subject) < 200


def _message(
    settings: Settings, rendered: RenderedEmail, address: str = "alice@example.org"
) -> email.message.EmailMessage:
    recipient = Recipient(
        delivery_id=7, subscriber_id=3, email=address, links=recipient_links(settings, 3, 11)
    )
    message = build_message(settings, rendered, recipient)
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, email.message.EmailMessage)
    return parsed


def test_edition_message_has_unsubscribe_headers_and_both_parts(settings: Settings) -> None:
    parsed = _message(settings, render_email("edition", fixed_context("edition")))
    unsubscribe = parsed["List-Unsubscribe"]
    assert unsubscribe.startswith("<https://papers.example.org/unsubscribe/") and "/one-click>" in unsubscribe
    assert "<mailto:papers@newsletter.example?subject=unsubscribe>" in unsubscribe
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["List-Id"] == "ML Papers Daily <daily.newsletter.example>"
    assert parsed["From"] == "ML Papers Daily <papers@newsletter.example>"
    assert parsed["Reply-To"] is None  # not configured: replies go to From
    assert parsed["Message-ID"].endswith("@newsletter.example>")
    text = parsed.get_body(("plain",)).get_content()
    html = parsed.get_body(("html",)).get_content()
    for part in (text, html):
        assert "%%" not in part  # every placeholder replaced with this recipient's signed link
        assert "https://papers.example.org/preferences/" in part
        assert "https://papers.example.org/editions/" in part


def test_reply_to_comes_from_settings_and_the_mailto_unsubscribe_uses_it(settings: Settings) -> None:
    configured = settings.model_copy(
        update={"reply_to": "editor@newsletter.example", "sender_name": "Ünïcode, Daily"}
    )
    parsed = _message(configured, render_email("welcome", fixed_context("welcome")))
    assert parsed["Reply-To"] == "editor@newsletter.example"
    assert parsed["From"].addresses[0].display_name == "Ünïcode, Daily"  # encoded, quoted, intact
    assert "<mailto:editor@newsletter.example?subject=unsubscribe>" in parsed["List-Unsubscribe"]


@pytest.mark.parametrize(
    "subject",
    [
        "10 trending papers for Thu 19 Nov: MUSCLE: A Model Update Strategy…",
        "10 trending papers for Thu 19 Nov: Ünïcode at the start, then a long title that has to be folded",
        "Short, ünïcode",
        "10 trending papers for Thu 19 Nov: an ASCII title long enough that it is folded somewhere",
    ],
)
def test_a_long_subject_reads_back_exactly_as_written(settings: Settings, subject: str) -> None:
    parsed = _message(settings, RenderedEmail(subject=subject, text="t", html="<p>h</p>"))
    assert parsed["Subject"] == subject
    lines = message_bytes(settings, subject).split(b"\n")
    first = next(index for index, line in enumerate(lines) if line.startswith(b"Subject:"))
    folded = [lines[first]] + list(takewhile(lambda line: line.startswith(b" "), lines[first + 1 :]))
    assert all(len(line.rstrip(b"\r")) <= 78 for line in folded), folded


def message_bytes(settings: Settings, subject: str) -> bytes:
    recipient = Recipient(
        delivery_id=7, subscriber_id=3, email="a@example.org", links=recipient_links(settings, 3, 11)
    )
    return build_message(
        settings, RenderedEmail(subject=subject, text="t", html="<p>h</p>"), recipient
    ).as_bytes()


def test_header_injection_through_name_subject_or_address_is_impossible(settings: Settings) -> None:
    hostile = settings.model_copy(update={"sender_name": "Evil\r\nBcc: victim@example.org", "reply_to": ""})
    rendered = RenderedEmail(subject="Hi\r\nBcc: victim@example.org\nX-Evil: 1", text="t", html="<p>h</p>")
    parsed = _message(hostile, rendered)
    assert parsed["Bcc"] is None and parsed["X-Evil"] is None
    assert "\n" not in parsed["Subject"] and "\r" not in str(parsed["From"])
    assert clean_header_value("a\r\nb\x00c") == "a bc"
    with pytest.raises(Exception):  # noqa: B017 - any refusal will do, as long as nothing is sent
        _message(settings, rendered, address="alice@example.org\r\nBcc: victim@example.org")


CHROMIUM = Path("/usr/bin/chromium")


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI"):
        pytest.fail("CI must take the email screenshots, but /usr/bin/chromium is not installed")
    pytest.skip("system chromium is not installed (/usr/bin/chromium)")


@pytest.mark.browser
@pytest.mark.parametrize("color_scheme", ["light", "dark"])
def test_every_email_is_readable_at_375_and_800_pixels_in_light_and_dark_mode(color_scheme: str) -> None:
    require_chromium()
    from playwright.sync_api import sync_playwright

    from tests.browser_fixtures import CHROMIUM_ARGS
    from tests.test_web_browser import CONTRAST_FAILURES_JS

    long_titled = paper(3, title="A very long title " * 8 + "y" * 300)
    contexts = {name: fixed_context(name) for name in EMAIL_NAMES}
    contexts["edition"] = edition_context([paper(1), paper(2), long_titled])
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for name, context in contexts.items():
                html = render_email(name, context).html
                # The other emails are single cards: the narrow phone width is their only hard case.
                for width in (375, 800) if name == "edition" else (375,):
                    page = browser.new_page(
                        viewport={"width": width, "height": 900}, color_scheme=color_scheme
                    )
                    page.set_content(html, wait_until="load")
                    where = f"{name} at {width}px, {color_scheme}"
                    # Nothing wider than the viewport; every text legible against what is behind it.
                    scroll_width = page.evaluate("document.documentElement.scrollWidth")
                    assert scroll_width <= width, f"{where}: horizontal scroll, {scroll_width}px"
                    assert page.evaluate(CONTRAST_FAILURES_JS) == [], where
                    assert page.get_by_text("1 Example Street").is_visible(), where
                    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
                    assert (background == "rgb(13, 17, 23)") == (color_scheme == "dark"), (where, background)
                    page.screenshot(
                        path=str(ARTIFACTS / f"{name}-{color_scheme}-{width}.png"), full_page=True
                    )
                    page.close()
        finally:
            browser.close()


def test_a_context_key_wins_over_a_dict_method_of_the_same_name() -> None:
    # Contexts are plain dicts read as `paper.title`; keys are looked up first (the fast path), so a key
    # that shares a dict method's name still renders its value.
    template = _runtime_environment().from_string(
        "{{ section.items }} / {{ section.title }} / {{ size.real }}"
    )

    rendered = template.render(section={"items": "three papers", "title": "NLP"}, size=7)

    assert rendered == "three papers / NLP / 7"


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        (
            {"frequency": "daily", "weekly_day": 0, "send_time": time(7, 0), "timezone": "UTC"},
            "every day at 07:00 (UTC)",
        ),
        (
            {"frequency": "weekly", "weekly_day": 4, "send_time": time(21, 15), "timezone": "Asia/Kolkata"},
            "every Friday at 21:15 (Asia/Kolkata)",
        ),
    ],
)
def test_a_transactional_email_states_the_subscribers_own_schedule(
    fields: dict[str, Any], words: str
) -> None:
    assert schedule_words(Subscriber(**fields)) == words


def test_topics_are_listed_in_words() -> None:
    assert [words_list(names) for names in ([], ["NLP"], ["NLP", "Theory"], ["A", "B", "C"])] == [
        "",
        "NLP",
        "NLP and Theory",
        "A, B and C",
    ]
