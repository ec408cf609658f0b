"""Rows and servers the mail tests share: editions with contents, a local SendGrid stand-in, and a Prism
mock of SendGrid's official OpenAPI spec."""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from pydantic import SecretStr
from sqlalchemy.orm import Session

from newsletter.config import Settings
from newsletter.models import Edition, EditionContent, EditionItem, Paper, Subscriber

EDITION_DAY = date(2026, 11, 21)


def make_content(session: Session, papers: list[Paper], overflow_count: int = 0) -> EditionContent:
    key = hashlib.sha256(
        (",".join(str(paper.id) for paper in papers) + f"|{overflow_count}|{uuid.uuid4()}").encode()
    ).hexdigest()
    content = EditionContent(content_key=key, item_count=len(papers), overflow_count=overflow_count)
    session.add(content)
    session.flush()
    for rank, paper in enumerate(papers):
        session.add(
            EditionItem(
                content_id=content.id,
                rank=rank,
                paper_id=paper.id,
                paper_version=paper.version,
                is_update=paper.version > 1,
                matched_topics=["NLP"],
                matched_keywords=["retrieval"] if rank == 0 else [],
                score=1.0,
                reason=f"NLP · keyword “retrieval” · {paper.hf_upvotes or 0} upvotes",
            )
        )
    session.flush()
    return content


def make_edition(
    session: Session,
    subscriber: Subscriber,
    content: EditionContent | None,
    edition_date: date = EDITION_DAY,
    kind: str | None = None,
) -> Edition:
    edition = Edition(
        subscriber_id=subscriber.id,
        edition_date=edition_date,
        kind=kind or ("papers" if content is not None else "nothing_new"),
        content_id=content.id if content is not None else None,
    )
    session.add(edition)
    session.flush()
    return edition


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_smtp_server(handler: object, **options: Any) -> Iterator[int]:
    """A real SMTP server (aiosmtpd) on a free local port answering with `handler`; yields the port."""
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@dataclass
class StandInRequest:
    emails: list[str]
    delivery_ids: list[int]
    body: dict[str, Any]
    raw: bytes = b""  # the request body as it came over the wire
    message_id: str | None = None  # the X-Message-Id answered, if it was accepted


@dataclass
class SendGridStandIn:
    """Speaks SendGrid's /v3/mail/send: records every request, answers as scripted.

    `script` is consumed one entry per request: ("ok",), ("status", code, headers), ("hang",) (read the
    request, never answer). When empty, answers 202 after `delay_s`.
    """

    script: list[tuple[Any, ...]] = field(default_factory=list)
    delay_s: float = 0.0
    requests: list[StandInRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""
    record_bodies: bool = True

    @property
    def emails(self) -> list[str]:
        with self.lock:
            return [email for request in self.requests for email in request.emails]


def _handler(stand_in: SendGridStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return None

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            body = json.loads(raw)
            personalizations = body.get("personalizations", [])
            request = StandInRequest(
                emails=[p["to"][0]["email"] for p in personalizations],
                delivery_ids=[int(p["custom_args"]["delivery_id"]) for p in personalizations],
                body=body if stand_in.record_bodies else {},
                raw=raw if stand_in.record_bodies else b"",
            )
            with stand_in.lock:
                stand_in.requests.append(request)
                step = stand_in.script.pop(0) if stand_in.script else ("ok",)
            if step[0] == "hang":
                time.sleep(3600)
                return
            if step[0] == "status":
                payload = json.dumps({"errors": [{"message": "scripted", "field": None}]}).encode()
                self.send_response(step[1])
                for name, value in (step[2] if len(step) > 2 else {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            if stand_in.delay_s:
                time.sleep(stand_in.delay_s)
            request.message_id = uuid.uuid4().hex[:22]
            self.send_response(202)
            self.send_header("X-Message-Id", request.message_id)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


def sendgrid_settings(settings: Settings, base_url: str, **updates: object) -> Settings:
    return settings.model_copy(
        update={
            "mail_backend": "sendgrid",
            "sendgrid_base_url": base_url,
            "sendgrid_api_key": SecretStr("SG.test-key"),
            "send_rate_per_s": 10_000.0,
            **updates,
        }
    )


@contextmanager
def running_stand_in(stand_in: SendGridStandIn | None = None) -> Iterator[SendGridStandIn]:
    stand_in = stand_in or SendGridStandIn()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(stand_in))
    server.daemon_threads = True
    stand_in.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stand_in
    finally:
        server.shutdown()
        server.server_close()


# Prism is an npm package: installed once into the gitignored var/node, reused by every later run.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
NODE_PREFIX = PROJECT_ROOT / "var" / "node"
PRISM_VERSION = "5.14.2"
PRISM = NODE_PREFIX / "node_modules" / ".bin" / "prism"
SENDGRID_MAIL_SPEC = (
    Path(__file__).resolve().parent / "fixtures" / "sendgrid" / "openapi" / "tsg_mail_v3.json"
)


class PrismUnavailable(Exception):
    """Prism could not be installed (no npm, no registry)."""


def _installed_prism_version() -> str | None:
    package = NODE_PREFIX / "node_modules" / "@stoplight" / "prism-cli" / "package.json"
    if not PRISM.exists() or not package.exists():
        return None
    return str(json.loads(package.read_text()).get("version"))


def prism_executable() -> Path:
    """The pinned Prism, installed with npm on first use."""
    if _installed_prism_version() == PRISM_VERSION:
        return PRISM
    npm = shutil.which("npm")
    if npm is None:
        raise PrismUnavailable("npm is not on PATH (Node.js 18+ with npm is needed)")
    NODE_PREFIX.mkdir(parents=True, exist_ok=True)
    with (NODE_PREFIX / ".install.lock").open("w") as lock:
        # Two test runs starting at once: the second waits and finds Prism installed.
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _installed_prism_version() != PRISM_VERSION:
            command = [npm, "install", "--prefix", str(NODE_PREFIX), "--no-audit", "--no-fund",
                       "--no-progress", "--loglevel=error", f"@stoplight/prism-cli@{PRISM_VERSION}"]  # fmt: skip
            try:
                install = subprocess.run(
                    command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900
                )
            except subprocess.TimeoutExpired as error:
                raise PrismUnavailable(f"npm install did not finish in {error.timeout} s") from error
            if install.returncode != 0 or _installed_prism_version() != PRISM_VERSION:
                raise PrismUnavailable(
                    f"npm install exited with {install.returncode}: {(install.stderr or install.stdout)[-1500:]}"
                )
    return PRISM


@contextmanager
def running_prism(spec: Path, log_path: Path) -> Iterator[str]:
    """`prism mock --errors` on a free port; yields its base URL. Prism validates every request against
    the spec and answers an invalid one with 4xx and an `sl-violations` header."""
    prism = prism_executable()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(prism), "mock", "--errors", "-h", "127.0.0.1", "-p", str(port), str(spec)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 90
            while True:
                if process.poll() is not None:
                    raise RuntimeError(
                        f"prism exited with {process.returncode}: {log_path.read_text()[-1500:]}"
                    )
                try:
                    urllib.request.urlopen(f"{url}/v3/mail/send", timeout=2)
                    break
                except urllib.error.HTTPError:
                    break  # any HTTP answer (a GET here is 404/405): it is up
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(
                            f"prism did not listen within 90 s: {log_path.read_text()[-1500:]}"
                        )
                    time.sleep(0.3)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
