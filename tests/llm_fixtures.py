"""A local server speaking the OpenAI chat-completions protocol for the LLM summaries of shown papers:
notes naming each paper's title, in French when the system prompt asks for it (no network)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from newsletter.config import Settings

PROMPT_TOKENS, COMPLETION_TOKENS = 321, 123


class ChatCompletionsHandler(BaseHTTPRequestHandler):
    """Answers every paper with notes naming its title, in French when the system prompt asks for it."""

    def log_message(self, format, *args):  # keep test output quiet
        pass

    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        system, user = (message["content"] for message in request["messages"])
        title = user.split("\n", 1)[0].removeprefix("Title: ")
        is_french = "in French" in system
        with self.server.lock:
            self.server.requests.append({"title": title, "language": "fr" if is_french else "en"})
        if is_french:
            results = (
                "Un gain de 94 % sur le banc d'essai." if self.server.invents_in_french else "Des résultats."
            )
            answer = {
                "key_points": [f"Note en français sur {title}.", "Deuxième note.", "Troisième note."],
                "summary": "Résumé.",
                "methodology": "Méthode.",
                "results": results,
                "implications": "Portée.",
                "topics": ["NLP"],
            }
        else:
            answer = {
                "key_points": [f"Model note on {title}.", "Second model note.", "Third model note."],
                "summary": "Summary.",
                "methodology": "Method.",
                "results": "Results.",
                "implications": "Implications.",
                "topics": ["Robotics"],
            }
        body = json.dumps(
            {
                "choices": [{"index": 0, "message": {"role": "assistant", "content": json.dumps(answer)}}],
                "usage": {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": COMPLETION_TOKENS},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(name="llm_server")
def llm_server_fixture() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), ChatCompletionsHandler)
    server.daemon_threads = True
    server.requests = []
    server.lock = threading.Lock()
    server.invents_in_french = False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def with_llm(settings: Settings, server: ThreadingHTTPServer) -> Settings:
    host, port = server.server_address
    return settings.model_copy(
        update={"summarizer": "llm", "llm_base_url": f"http://{host}:{port}/v1", "llm_model": "test-model"}
    )


def asked(server: ThreadingHTTPServer) -> list[tuple[str, str]]:
    return sorted((request["language"], request["title"]) for request in server.requests)


# A model that answers every paper alike (`with_llm` points settings at it), with whatever a test sets as `server.answer`.
FAIR_ANSWER: dict[str, Any] = {
    "key_points": [
        "A retriever reads passages twice.",
        "It improves recall on three benchmarks.",
        "The method is simple to deploy.",
    ],
    "summary": "The paper studies retrieval for question answering.",
    "methodology": "A retriever reads each passage twice.",
    "results": "Recall improves on three benchmarks.",
    "implications": "Simple to deploy.",
    "topics": ["NLP"],
}


class ScriptedModel(BaseHTTPRequestHandler):
    """Answers every request with the server's `answer` (a dict, sent as the message's JSON content)."""

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        content = json.dumps(self.server.answer)  # type: ignore[attr-defined]
        body = json.dumps(
            {
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 10},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(name="model_server")
def model_server_fixture() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), ScriptedModel)
    server.daemon_threads = True
    server.answer = FAIR_ANSWER  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
