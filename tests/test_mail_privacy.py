"""No email asks a third party for anything when it is opened, and none looks like spam.

Every template is rendered from a fixed context: its HTML must load nothing (no fonts, stylesheets,
images, pixels, frames), its preview line must be hidden by display, not by a colour close to the
background, and SpamAssassin (`spamassassin -t -L`, local rules only) must score it at most 0.0 apart
from the rules that only say the file was never relayed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import html5lib
import pytest

from newsletter.config import Settings
from newsletter.mail.message import Recipient, build_message
from newsletter.mail.render import EMAIL_NAMES, render_email
from tests.test_mail_render import fixed_context

LOADING_ELEMENTS = {"link", "img", "script", "iframe", "frame", "object", "embed", "video", "audio", "source"}
LOADING_ATTRIBUTES = {"src", "srcset", "background", "poster", "data", "codebase", "lowsrc", "dynsrc"}
# What `-t` on a file that never crossed a mail server scores for that alone.
LOCAL_FILE_RULES = {"NO_RECEIVED", "NO_RELAYS", "ALL_TRUSTED", "MISSING_MID", "NO_DNS_FOR_FROM"}


def parse(html: str) -> Any:
    return html5lib.parse(html, treebuilder="etree", namespaceHTMLElements=False)


@pytest.mark.parametrize("name", EMAIL_NAMES)
def test_no_email_loads_anything_from_anywhere(name: str) -> None:
    html = render_email(name, fixed_context(name)).html
    document = parse(html)
    for element in document.iter():
        tag = element.tag if isinstance(element.tag, str) else ""
        assert tag not in LOADING_ELEMENTS, tag
        assert not LOADING_ATTRIBUTES & set(element.attrib), (tag, element.attrib)
        style = (element.get("style") or "") + (element.text or "" if tag == "style" else "")
        assert "url(" not in style and "@import" not in style, style
    assert "fonts.googleapis.com" not in html and "@import" not in html


@pytest.mark.parametrize("name", EMAIL_NAMES)
def test_the_preview_line_is_hidden_without_low_contrast_text(name: str) -> None:
    context = fixed_context(name)
    document = parse(render_email(name, context).html)
    [preheader] = [div for div in document.iter("div") if div.get("class") == "preheader"]
    assert (preheader.text or "").strip() == context["preheader"]
    style = preheader.get("style", "").replace(" ", "")
    assert "display:none" in style
    assert "color:" not in style and "font-size:1px" not in style and "opacity" not in style
    body = document.find("body")
    assert body is not None
    # It is the first text of the body: what inboxes show as the preview.
    assert "".join(body.itertext()).strip().startswith(context["preheader"])


def spamassassin_report(raw: bytes) -> dict[str, float]:
    completed = subprocess.run(
        ["spamassassin", "-t", "-L"], input=raw, capture_output=True, timeout=120, check=False
    )
    output = completed.stdout.decode(errors="replace")
    details = output.split("Content analysis details:", 1)
    assert len(details) == 2, output[-2000:]
    return {
        rule: float(points)
        for points, rule in re.findall(r"^\s*(-?\d+\.\d+)\s+([A-Z0-9_]+)\s", details[1], re.M)
    }


@pytest.fixture(scope="module")
def spamassassin() -> None:
    if shutil.which("spamassassin") is None:
        if os.environ.get("CI"):
            pytest.fail("CI must score every email with SpamAssassin; .ci/run installs the Debian package")
        pytest.skip("spamassassin is not installed (Debian package spamassassin)")


@pytest.mark.parametrize("name", EMAIL_NAMES)
def test_spamassassin_scores_every_email_at_most_zero(
    spamassassin: None, settings: Settings, name: str, tmp_path: Path
) -> None:
    rendered = render_email(name, fixed_context(name))
    links = {
        slot: f"https://papers.example.org/{slot}/eyJpZCI6M30.aBcDeF.abcdefghijklmnopqrstuvwxyz0"
        for slot in rendered.link_slots
    }
    recipient = Recipient(
        7, 3, "alice@example.org", links=links, is_bulk=name in ("edition", "nothing_new", "welcome")
    )
    raw = build_message(settings, rendered, recipient).as_bytes()
    (tmp_path / f"{name}.eml").write_bytes(raw)
    scores = spamassassin_report(raw)
    counted = {rule: points for rule, points in scores.items() if rule not in LOCAL_FILE_RULES}
    assert "HTML_FONT_LOW_CONTRAST" not in scores
    assert sum(counted.values()) <= 0.0, counted
