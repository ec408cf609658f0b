"""A local server speaking the OpenAI chat-completions protocol for the LLM summaries of shown papers:
notes naming each paper's title, in French when the system prompt asks for it (no network)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from newsletter.config import Settings

PROMPT_TOKENS, COMPLETION_TOKENS = 321, 123


def chat_completion(content: str, prompt_tokens: int, completion_tokens: int) -> bytes:
    return json.dumps(
        {
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens},
        }
    ).encode()


def send_body(
    handler: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str = "application/json"
) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler], **state: Any) -> Iterator[ThreadingHTTPServer]:
    """A local server of `handler` on a free port, in a thread, with `state` as attributes its handler reads."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    for name, value in state.items():
        setattr(server, name, value)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


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
        send_body(self, 200, chat_completion(json.dumps(answer), PROMPT_TOKENS, COMPLETION_TOKENS))


@pytest.fixture(name="llm_server")
def llm_server_fixture() -> Iterator[ThreadingHTTPServer]:
    with serving(
        ChatCompletionsHandler, requests=[], lock=threading.Lock(), invents_in_french=False
    ) as server:
        yield server


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
        send_body(self, 200, chat_completion(content, 10, 10))


@pytest.fixture(name="model_server")
def model_server_fixture() -> Iterator[ThreadingHTTPServer]:
    with serving(ScriptedModel, answer=FAIR_ANSWER) as server:
        yield server
