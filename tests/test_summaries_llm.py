"""The LLM backend against a real local HTTP server speaking the OpenAI chat-completions protocol."""

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from newsletter.config import Settings
from newsletter.summaries.extractive import ExtractiveSummarizer
from newsletter.summaries.factory import make_ingest_summarizer, make_llm_summarizer, make_summarizer
from newsletter.summaries.llm import LLMSummarizer
from newsletter.summaries.model import PaperText
from newsletter.summaries.sentences import split_sentences

PAPER = PaperText(
    title="Meta-Ensemble Learning for Respiratory Sound Classification",
    abstract=(
        "Respiratory sound classification suffers from small datasets. We propose a meta-ensemble that trains "
        "base models on diverse data splits. A meta-model combines the base models. Experiments show a score "
        "of 66.49% on the ICBHI benchmark. The method generalises to clinical data."
    ),
    id="2401.00001",
)
GOOD_ANSWER = {
    "key_points": [
        "A meta-ensemble trains base models on diverse data splits.",
        "A meta-model combines the base models.",
        "The method reaches a score of 66.49% on ICBHI.",
    ],
    "summary": "The paper tackles respiratory sound classification with little data. It proposes a meta-ensemble.",
    "methodology": "Base models are trained on different splits and combined by a meta-model.",
    "results": "It scores 66.49% on the ICBHI benchmark.",
    "implications": "Diverse splits help clinical sound classifiers. More data helps. It matters. Fourth one.",
    "topics": ["Audio & Speech", "Not A Tag"],
}


class FakeOpenAIHandler(BaseHTTPRequestHandler):
    def log_message(self, format, *args):  # keep test output quiet
        pass

    def do_POST(self):
        server = self.server
        length = int(self.headers.get("Content-Length", 0))
        request = json.loads(self.rfile.read(length))
        server.requests.append(
            {"path": self.path, "body": request, "auth": self.headers.get("Authorization")}
        )
        step = server.script.pop(0) if len(server.script) > 1 else server.script[0]
        if step == "hang":
            time.sleep(2)
            return self._reply(200, completion(GOOD_ANSWER))
        if step == "429":
            return self._reply(429, {"error": "slow down"}, {"Retry-After": "0"})
        if step == "500":
            return self._reply(500, {"error": "boom"})
        if step == "400":
            return self._reply(400, {"error": "bad model"})
        if step == "invented":
            return self._reply(
                200, completion({**GOOD_ANSWER, "results": "It is 494× faster with a 7B model."})
            )
        if step == "not-json":
            return self._reply(200, completion_text("Sure! Here is a summary: it is good."))
        if step == "wrong-shape":
            return self._reply(200, completion({"key_points": ["Only one."], "summary": "x"}))
        if step == "fenced":
            return self._reply(200, completion_text("```json\n" + json.dumps(GOOD_ANSWER) + "\n```"))
        return self._reply(200, completion(GOOD_ANSWER))

    def _reply(self, status, payload, headers=None):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        try:
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (the timeout test): nothing to answer


def completion(answer: dict) -> dict:
    return completion_text(json.dumps(answer))


def completion_text(content: str) -> dict:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 321, "completion_tokens": 123, "total_tokens": 444},
    }


@pytest.fixture
def llm_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAIHandler)
    server.daemon_threads = True
    server.requests = []
    server.script = ["good"]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def summarizer_for(server, timeout_s: float = 5.0, concurrency: int = 2) -> LLMSummarizer:
    host, port = server.server_address
    return LLMSummarizer(
        base_url=f"http://{host}:{port}/v1",
        model="test-model",
        api_key="sk-test",
        concurrency=concurrency,
        timeout_s=timeout_s,
        retry_wait_s=0.01,
    )


def test_good_answer_is_validated_trimmed_and_recorded_with_usage(llm_server):
    result = summarizer_for(llm_server).summarize(PAPER)

    assert result.backend == "llm"
    assert result.model == "test-model"
    assert result.fallback_reason is None
    assert result.key_points == GOOD_ANSWER["key_points"]
    assert result.results == "It scores 66.49% on the ICBHI benchmark."
    assert len(split_sentences(result.implications).sentences) == 3
    assert result.topics == ["Audio & Speech"]
    assert (result.prompt_tokens, result.completion_tokens) == (321, 123)
    request = llm_server.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["auth"] == "Bearer sk-test"
    assert request["body"]["model"] == "test-model"
    assert request["body"]["response_format"] == {"type": "json_object"}
    assert "66.49%" in request["body"]["messages"][1]["content"]


def test_answer_in_a_code_fence_is_accepted(llm_server):
    llm_server.script = ["fenced"]

    assert summarizer_for(llm_server).summarize(PAPER).fallback_reason is None


def test_guard_rejects_an_invented_number_and_falls_back_with_the_reason(llm_server):
    llm_server.script = ["invented"]

    result = summarizer_for(llm_server).summarize(PAPER)

    assert result.backend == "extractive"
    assert "faithfulness guard" in result.fallback_reason
    assert "494×" in result.fallback_reason and "7B" in result.fallback_reason
    assert result.key_points == ExtractiveSummarizer().summarize(PAPER).key_points
    assert result.prompt_tokens == 321
    assert len(llm_server.requests) == 1


@pytest.mark.parametrize("step", ["not-json", "wrong-shape"])
def test_malformed_answer_falls_back_without_retrying(llm_server, step):
    llm_server.script = [step]

    result = summarizer_for(llm_server).summarize(PAPER)

    assert result.backend == "extractive"
    assert "not the requested JSON" in result.fallback_reason
    assert len(llm_server.requests) == 1


def test_server_error_is_retried_then_succeeds(llm_server):
    llm_server.script = ["500", "good"]

    result = summarizer_for(llm_server).summarize(PAPER)

    assert result.fallback_reason is None
    assert len(llm_server.requests) == 2


def test_429_with_retry_after_is_retried(llm_server):
    llm_server.script = ["429", "429", "good"]

    result = summarizer_for(llm_server).summarize(PAPER)

    assert result.backend == "llm"
    assert len(llm_server.requests) == 3


def test_persistent_server_errors_fall_back_after_bounded_retries(llm_server):
    llm_server.script = ["500"]

    result = summarizer_for(llm_server).summarize(PAPER)

    assert result.backend == "extractive"
    assert "TransientError" in result.fallback_reason and "500" in result.fallback_reason
    assert len(llm_server.requests) == 3


def test_client_error_is_permanent_and_not_retried(llm_server):
    llm_server.script = ["400"]

    result = summarizer_for(llm_server).summarize(PAPER)

    assert "PermanentError" in result.fallback_reason
    assert len(llm_server.requests) == 1


def test_a_hanging_server_times_out_and_falls_back(llm_server):
    llm_server.script = ["hang"]

    started = time.perf_counter()
    result = summarizer_for(llm_server, timeout_s=0.2).summarize(PAPER)

    assert result.backend == "extractive"
    assert "timed out" in result.fallback_reason
    assert time.perf_counter() - started < 6


def test_unreachable_server_falls_back():
    summarizer = LLMSummarizer(base_url="http://127.0.0.1:9/v1", model="m", timeout_s=0.5, retry_wait_s=0.01)

    result = summarizer.summarize(PAPER)

    assert result.backend == "extractive"
    assert "connection failed" in result.fallback_reason or "timed out" in result.fallback_reason


def test_summarize_many_keeps_order_and_never_exceeds_the_concurrency_limit(llm_server):
    in_flight = {"now": 0, "max": 0}
    lock = threading.Lock()
    original = FakeOpenAIHandler.do_POST

    def counting_post(handler):
        with lock:
            in_flight["now"] += 1
            in_flight["max"] = max(in_flight["max"], in_flight["now"])
        time.sleep(0.05)
        try:
            original(handler)
        finally:
            with lock:
                in_flight["now"] -= 1

    FakeOpenAIHandler.do_POST = counting_post
    try:
        papers = [PaperText(f"Paper {i}", PAPER.abstract, id=str(i)) for i in range(8)]
        results = summarizer_for(llm_server, concurrency=3).summarize_many(papers)
    finally:
        FakeOpenAIHandler.do_POST = original

    assert len(results) == 8
    assert all(result.backend == "llm" for result in results)
    assert len(llm_server.requests) == 8
    assert in_flight["max"] <= 3


def test_make_summarizer_follows_the_settings():
    offline = make_summarizer(Settings(_env_file=None))
    online = make_summarizer(Settings(_env_file=None, summarizer="llm", llm_model="m-1"))

    assert offline.backend == "extractive"
    assert online.backend == "llm"
    assert online.version_key == "llm-1:m-1"
    # Stored papers are summarized offline at ingest whatever the settings; the LLM only for shown ones.
    assert make_ingest_summarizer().backend == "extractive"
    french = make_llm_summarizer(Settings(_env_file=None, summarizer="llm", llm_model="m-1"), "fr")
    assert french.version_key == "llm-1:m-1:fr"


def test_a_summary_in_another_language_asks_the_model_for_it_and_is_still_guarded(llm_server):
    host, port = llm_server.server_address
    french = LLMSummarizer(
        base_url=f"http://{host}:{port}/v1", model="test-model", language="fr", retry_wait_s=0.01
    )
    llm_server.script = ["invented"]

    result = french.summarize(PAPER)

    system_prompt = llm_server.requests[0]["body"]["messages"][0]["content"]
    assert "Write the key points and the sections in French" in system_prompt
    assert result.fallback_reason and "faithfulness guard" in result.fallback_reason
    with pytest.raises(ValueError):
        LLMSummarizer(base_url="http://127.0.0.1:9/v1", model="m", language="xx")
