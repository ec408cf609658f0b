"""`make lighthouse`: Lighthouse (npm, this folder) with the system Chromium against the served demo.

Starts `newsletter demo --port P`, audits the home, a paper, the signup and a demo reader's preference
page on mobile and desktop, prints the four category scores of each (and SEO without the "Page is blocked
from indexing" audit, which a `noindex` page fails by design), with the machine's load average when each
audit started, and writes every report to var/lighthouse/. Nothing is downloaded: Lighthouse runs
offline and drives /usr/bin/chromium.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from newsletter.config import Settings
from newsletter.db import make_engine, make_session_factory, session_scope
from newsletter.links.urls import preferences_url
from newsletter.services import resolve_service_urls
from newsletter.subscribers.service import find_subscriber_by_email

HERE = Path(__file__).resolve().parent
LIGHTHOUSE = HERE / "node_modules" / ".bin" / "lighthouse"
CHROMIUM = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
# The audit a page behind a signed link fails on purpose: it sends `noindex` (docs/web.md).
NOINDEX_AUDIT = "is-crawlable"
SCORED_MODES = ("binary", "numeric", "metricSavings")
PORT = int(os.environ.get("LIGHTHOUSE_PORT", "8765"))


def wait_for(url: str, demo: subprocess.Popen[bytes], timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if demo.poll() is not None:
            raise SystemExit(f"the demo exited with {demo.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(1)
    raise SystemExit("the demo did not serve the site in time")


def pages(base: str) -> dict[str, str]:
    settings = Settings().served_on(PORT)
    factory = make_session_factory(make_engine(resolve_service_urls(settings).database_url))
    with session_scope(factory) as session:
        reader = find_subscriber_by_email(session, "ada@demo.example")
        assert reader is not None, "the demo readers are missing"
        preferences = preferences_url(settings, reader.id)
    paper = re.search(r'href="(/papers/[^"]+)"', httpx.get(base + "/").text)
    assert paper is not None, "no paper on the home page"
    return {
        "home": base + "/",
        "paper": base + paper.group(1),
        "signup": base + "/subscribe",
        "preferences": preferences,
    }


def audit(name: str, url: str, form_factor: str, out: Path) -> dict[str, float | None]:
    report = out / f"{name}-{form_factor}.json"
    # Scores on a shared machine move with what else runs: the 1-minute load average is kept beside them.
    load = round(os.getloadavg()[0], 2)
    command = [
        str(LIGHTHOUSE),
        url,
        "--output=json",
        f"--output-path={report}",
        "--quiet",
        "--chrome-flags=--headless=new --no-sandbox --disable-gpu",
        *(["--preset=desktop"] if form_factor == "desktop" else []),
    ]
    subprocess.run(command, env={**os.environ, "CHROME_PATH": CHROMIUM}, check=False, timeout=300)  # noqa: S603
    if not report.exists():
        return {**dict.fromkeys(CATEGORIES), "seo-without-is-crawlable": None, "load": load}
    result = json.loads(report.read_text())
    categories = result["categories"]
    scores: dict[str, float | None] = {key: categories[key]["score"] for key in CATEGORIES}
    scores["seo-without-is-crawlable"] = category_score(result, "seo", leave_out=NOINDEX_AUDIT)
    scores["load"] = load
    return scores


def category_score(result: dict[str, Any], category: str, leave_out: str | None = None) -> float | None:
    """A category's score as Lighthouse computes it (the weighted mean of its scored audits), optionally
    without one audit."""
    total = weights = 0.0
    for ref in result["categories"][category]["auditRefs"]:
        audit_result = result["audits"][ref["id"]]
        if (
            ref["id"] == leave_out
            or not ref["weight"]
            or audit_result["scoreDisplayMode"] not in SCORED_MODES
        ):
            continue
        total += ref["weight"] * (audit_result["score"] or 0.0)
        weights += ref["weight"]
    return round(total / weights, 2) if weights else None


def percent(score: float | None) -> str:
    return "-" if score is None else str(round(score * 100))


def main() -> int:
    if not LIGHTHOUSE.exists():
        print("Lighthouse is not installed: run `make lighthouse` (it runs npm install first)")
        return 2
    out = Path("var/lighthouse")
    out.mkdir(parents=True, exist_ok=True)
    base = f"http://127.0.0.1:{PORT}"
    demo = subprocess.Popen([sys.executable, "-m", "newsletter.cli", "demo", "--port", str(PORT)])  # noqa: S603
    try:
        wait_for(base + "/", demo)
        results = {
            f"{name} {form_factor}": audit(name, url, form_factor, out)
            for name, url in pages(base).items()
            for form_factor in ("mobile", "desktop")
        }
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=60)
    (out / "summary.json").write_text(json.dumps(results, indent=2))
    columns = (*CATEGORIES, "seo-without-is-crawlable")
    print(f"{'page':<22}" + "".join(f"{key:>26}" for key in columns) + f"{'load (1 min)':>14}")
    for page, scores in results.items():
        cells = "".join(f"{percent(scores[key]):>26}" for key in columns)
        print(f"{page:<22}{cells}{scores['load']:>14}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
