"""Rows and servers the mail tests share: editions with contents, and a local SendGrid stand-in."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy.orm import Session

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


@dataclass
class StandInRequest:
    emails: list[str]
    delivery_ids: list[int]
    body: dict[str, Any]


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
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            personalizations = body.get("personalizations", [])
            with stand_in.lock:
                stand_in.requests.append(
                    StandInRequest(
                        emails=[p["to"][0]["email"] for p in personalizations],
                        delivery_ids=[int(p["custom_args"]["delivery_id"]) for p in personalizations],
                        body=body if stand_in.record_bodies else {},
                    )
                )
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
            self.send_response(202)
            self.send_header("X-Message-Id", uuid.uuid4().hex[:22])
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


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
