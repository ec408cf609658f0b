"""What the browser tests share: the system Chromium (Playwright drives it; it never downloads a browser),
its flags, and where screenshots go (test-artifacts/web/, ignored by git)."""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "web"
NEEDS_CHROMIUM = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="the system chromium is not installed (apt-get install chromium)"
)
