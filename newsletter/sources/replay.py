"""A local server that stands in for arXiv and Hugging Face, answering from the sample feed in their wire
formats, so the demo and tests run the real HTTP clients and parsers.

Run:  python -m newsletter.sources.replay --port 8765
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from newsletter.sources.arxiv_ids import split_versioned_id
from newsletter.sources.parse import PaperRecord
from newsletter.sources.samplefeed import SAMPLE_FEED_DIR, load_sample_daily_papers, load_sample_papers
from newsletter.sources.wireformat import render_atom_entry, render_atom_feed

logger = logging.getLogger(__name__)

CATEGORY_TERM = re.compile(r"\bcat:([A-Za-z0-9.\-]+)")
DATE_RANGE = re.compile(r"\b(submittedDate|lastUpdatedDate):\[(\d{12}) TO (\d{12})\]")
MAX_RESULTS_LIMIT = 2000
HF_LIMIT_MAX = 100


@dataclass(slots=True)
class ArxivQuery:
    categories: list[str]
    # field name -> (from, to), both inclusive, UTC.
    ranges: dict[str, tuple[datetime, datetime]]
    ids: list[str]

    def matches(self, paper: PaperRecord) -> bool:
        if self.ids and paper.arxiv_id not in self.ids:
            return False
        if self.categories and not set(self.categories) & set(paper.categories):
            return False
        if not self.ranges:
            return True
        stamps = {"submittedDate": paper.published, "lastUpdatedDate": paper.updated}
        # The client's query ORs the two ranges.
        return any(low <= stamps[name] <= high for name, (low, high) in self.ranges.items())


def parse_search_query(search_query: str, id_list: str) -> ArxivQuery:
    ranges = {}
    for name, low, high in DATE_RANGE.findall(search_query):
        ranges[name] = (
            datetime.strptime(low, "%Y%m%d%H%M").replace(tzinfo=UTC),
            datetime.strptime(high, "%Y%m%d%H%M").replace(tzinfo=UTC, second=59),
        )
    ids = [parsed[0] for raw in id_list.split(",") if raw.strip() and (parsed := split_versioned_id(raw))]
    return ArxivQuery(categories=CATEGORY_TERM.findall(search_query), ranges=ranges, ids=ids)


@dataclass(slots=True)
class ReplayData:
    papers: list[PaperRecord]
    rendered_entries: dict[str, str]
    daily_papers: dict[date, list[dict[str, Any]]]

    @classmethod
    def load(cls, directory: Path) -> ReplayData:
        papers = sorted(load_sample_papers(directory), key=lambda paper: paper.updated, reverse=True)
        return cls(
            papers=papers,
            rendered_entries={paper.arxiv_id: render_atom_entry(paper) for paper in papers},
            daily_papers=load_sample_daily_papers(directory),
        )


@dataclass(slots=True)
class RecordedRequest:
    at_monotonic: float
    path: str


class ReplayServer:
    """Serves until `stop()`; `requests` records each request's arrival time for politeness tests."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, feed_dir: Path = SAMPLE_FEED_DIR) -> None:
        self.data = ReplayData.load(feed_dir)
        self.requests: list[RecordedRequest] = []
        self.requests_lock = threading.Lock()
        self.httpd = ThreadingHTTPServer((host, port), self.handler_class())
        self.httpd.daemon_threads = True
        # port=0 asks the OS for a free port; server_port is the one it gave.
        self.base_url = f"http://{host}:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="replay-server", daemon=True)
        self.thread.start()
        logger.info("Replay server for arXiv and Hugging Face at %s", self.base_url)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> ReplayServer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def __iter__(self) -> Iterator[Any]:
        # `server, base_url = start_replay_server()` reads naturally in scripts.
        return iter((self, self.base_url))

    def record(self, path: str) -> None:
        with self.requests_lock:
            self.requests.append(RecordedRequest(at_monotonic=time.monotonic(), path=path))

    def answer_arxiv(self, query: dict[str, list[str]]) -> tuple[int, str, bytes]:
        search_query = first(query, "search_query")
        try:
            start = int(first(query, "start") or 0)
            max_results = min(int(first(query, "max_results") or 10), MAX_RESULTS_LIMIT)
        except ValueError:
            return 400, "text/plain", b"start and max_results must be integers"
        matching = self.matching_papers(search_query, first(query, "id_list"))
        page = matching[start : start + max_results]
        body = render_atom_feed(
            [self.data.rendered_entries[paper.arxiv_id] for paper in page],
            search_query=search_query,
            start=start,
            max_results=max_results,
            total_results=len(matching),
            generated_at=datetime.now(UTC),
        )
        return 200, "application/atom+xml; charset=utf-8", body

    def matching_papers(self, search_query: str, id_list: str) -> list[PaperRecord]:
        parsed = parse_search_query(search_query, id_list)
        return [paper for paper in self.data.papers if parsed.matches(paper)]

    def answer_daily_papers(self, query: dict[str, list[str]]) -> tuple[int, str, bytes]:
        try:
            day = date.fromisoformat(first(query, "date"))
            page_number = int(first(query, "p") or 0)
            limit = min(int(first(query, "limit") or 50), HF_LIMIT_MAX)
        except ValueError:
            return 400, "application/json", b'{"error":"date must be YYYY-MM-DD; p and limit integers"}'
        items = self.data.daily_papers.get(day, [])
        page = items[page_number * limit : (page_number + 1) * limit]
        return 200, "application/json; charset=utf-8", json.dumps(page, ensure_ascii=False).encode("utf-8")

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class ReplayHandler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                server.record(self.path)
                url = urlsplit(self.path)
                query = parse_qs(url.query, keep_blank_values=True)
                if url.path == "/api/query":
                    status, content_type, body = server.answer_arxiv(query)
                elif url.path == "/api/daily_papers":
                    status, content_type, body = server.answer_daily_papers(query)
                else:
                    status, content_type, body = 404, "text/plain", b"not found"
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (overrides the stdlib name)
                logger.debug("replay %s " + format, self.address_string(), *args)

        return ReplayHandler


def first(query: dict[str, list[str]], name: str) -> str:
    values = query.get(name)
    return values[0] if values else ""


def start_replay_server(
    host: str = "127.0.0.1", port: int = 0, feed_dir: Path = SAMPLE_FEED_DIR
) -> ReplayServer:
    return ReplayServer(host, port, feed_dir)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m newsletter.sources.replay")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    server = start_replay_server(arguments.host, arguments.port)
    print(f"Serving the sample feed at {server.base_url} (arxiv_base_url and hf_base_url); Ctrl-C stops")
    try:
        server.thread.join()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
