"""`make lighthouse`: Lighthouse (npm, this folder) with the system Chromium against the served demo.

Starts `newsletter demo --port P`, audits the home, a paper, the signup and a demo reader's preference
page on mobile and desktop, prints the four category scores of each and writes every report to
var/lighthouse/. Nothing is downloaded: Lighthouse runs offline and drives /usr/bin/chromium.
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
        return dict.fromkeys(CATEGORIES)
    categories = json.loads(report.read_text())["categories"]
    return {key: categories[key]["score"] for key in CATEGORIES}


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
    print(f"{'page':<22}" + "".join(f"{key:>16}" for key in CATEGORIES))
    for page, scores in results.items():
        cells = "".join(f"{'-' if s is None else round(s * 100):>16}" for s in scores.values())
        print(f"{page:<22}{cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
