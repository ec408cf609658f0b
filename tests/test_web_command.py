"""`newsletter web` serves the site: the real command in a child process, on a free port."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx

from newsletter.db import session_scope
from tests.factories import make_paper
from tests.mail_factories import free_port


def test_newsletter_web_serves_the_site_until_stopped(child_environment, committed_session_factory):
    with session_scope(committed_session_factory) as session:
        make_paper(session, title="Served by the real command", arxiv_id="2611.07777")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "newsletter.cli", "web", "--host", "127.0.0.1", "--port", str(port)],
        env=child_environment | {"NEWSLETTER_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        home = None
        deadline = time.monotonic() + 60
        while home is None and time.monotonic() < deadline and server.poll() is None:
            try:
                home = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
            except httpx.TransportError:
                time.sleep(0.2)
        assert home is not None, "the server never answered"
        assert home.status_code == 200
        assert "Served by the real command" in home.text and 'name="email"' in home.text
        assert "default-src 'none'" in home.headers["content-security-policy"]
        paper = httpx.get(f"http://127.0.0.1:{port}/papers/2611.07777", timeout=5)
        assert paper.status_code == 200
        # Another Host header reaches nothing, and the refusal still carries the security headers.
        foreign = httpx.get(f"http://127.0.0.1:{port}/", headers={"host": "evil.example"}, timeout=5)
        assert foreign.status_code == 400 and "Served by" not in foreign.text
        assert "default-src 'none'" in foreign.headers["content-security-policy"]
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert server.returncode is not None
    assert b"Traceback" not in output, output.decode(errors="replace")
