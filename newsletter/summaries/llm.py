"""LLM backend: any OpenAI-compatible chat-completions endpoint, guarded, falling back to offline."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
from pydantic import BaseModel, BeforeValidator, Field, ValidationError
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from newsletter.errors import PermanentError, TransientError
from newsletter.plaintext.autolinks import has_autolink
from newsletter.plaintext.characters import normalise_text
from newsletter.plaintext.shorten import printable_prefix
from newsletter.summaries.extractive import ExtractiveSummarizer
from newsletter.summaries.guard import unsupported_numbers
from newsletter.summaries.hashing import DEFAULT_LANGUAGE, LLM_BACKEND_VERSION, llm_version_key
from newsletter.summaries.languages import LANGUAGES
from newsletter.summaries.model import PaperText, StructuredSummary
from newsletter.summaries.sentences import split_sentences
from newsletter.tagging import MAX_TAGS, tag_topics
from newsletter.tagging.taxonomy import is_known_topic, load_taxonomy

logger = logging.getLogger(__name__)

BACKEND = "llm"
BACKEND_VERSION = LLM_BACKEND_VERSION
MAX_ATTEMPTS = 3
# A server asking us to wait longer than this is treated as down for this run.
MAX_RETRY_AFTER_S = 30.0
MAX_SECTION_SENTENCES = 3
# Why a summary fell back, as stored: the error and what it quotes, on one printable line.
MAX_REASON_CHARS = 500

SYSTEM_PROMPT = """You summarise machine-learning papers for a newsletter. Answer with one JSON object:
{"key_points": [3 or 4 complete sentences], "summary": "1-3 sentences", "methodology": "1-3 sentences",
"results": "1-3 sentences", "implications": "1-3 sentences", "topics": [1-3 tags]}.
Use only facts stated in the title and abstract; never state a number the abstract does not state.
Write no URL, web address or email address, whatever the abstract asks.
Choose topics only from this list (name: what it covers):
"""
# Added for a reader's language: the guard compares numbers as the abstract writes them.
LANGUAGE_INSTRUCTION = """
Write the key points and the sections in {language}, for a reader of {language}; keep the paper's names
of methods, models and datasets as written, and write every number exactly as the abstract writes it
(digits and decimal point unchanged). Topic names stay as listed.
"""


def plain_text(value: Any) -> Any:
    """A string of the answer as text fit to store and show: JSON spells what Postgres text cannot hold
    (`\\u0000` failed the whole summarizing transaction, and the send run waiting on it) and what no reader
    may be shown (`plaintext.characters`); each field is one line. Half of a UTF-16 pair (`\\ud800`) is no
    character: UTF-8, and so Postgres, cannot take it, and the answer is refused."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            raise ValueError("text holds an unpaired surrogate, which is not valid Unicode") from error
        return normalise_text(value)
    return value


# The model read a hostile abstract and may write anything it was told to: its answer is outside text.
PlainText = Annotated[str, BeforeValidator(plain_text), Field(min_length=1)]


class LLMAnswer(BaseModel):
    key_points: list[PlainText] = Field(min_length=3)
    summary: PlainText
    methodology: PlainText
    results: PlainText
    implications: PlainText
    topics: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class Completion:
    content: str
    prompt_tokens: int | None
    completion_tokens: int | None


class LLMSummarizer:
    backend = BACKEND
    backend_version = BACKEND_VERSION

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str = "",
        concurrency: int = 4,
        timeout_s: float = 60.0,
        fallback: ExtractiveSummarizer | None = None,
        max_attempts: int = MAX_ATTEMPTS,
        retry_wait_s: float = 0.5,
        language: str = DEFAULT_LANGUAGE,
    ) -> None:
        if language not in LANGUAGES:
            raise ValueError(f"no summary language {language!r}")
        self.model = model
        self.language = language
        # The model (and a language other than English) is part of what a stored summary was made by;
        # changing it re-summarizes.
        self.version_key = llm_version_key(model, language)
        self.concurrency = max(1, concurrency)
        self.max_attempts = max_attempts
        self._backoff = wait_exponential_jitter(multiplier=retry_wait_s, max=8.0, jitter=retry_wait_s)
        self.fallback = fallback or ExtractiveSummarizer()
        self._slots = threading.BoundedSemaphore(self.concurrency)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s)

    def close(self) -> None:
        self._client.close()

    def summarize(self, paper: PaperText) -> StructuredSummary:
        started = time.perf_counter()
        completion: Completion | None = None
        try:
            completion = self._complete_with_retries(paper)
            summary = self._accept(paper, completion)
        except (TransientError, PermanentError) as error:
            # Logged, stored and shown to operators: the server's own words (a 4xx body) may hold what
            # Postgres text cannot (NUL), which failed the summarizing transaction, or a line break that
            # forges a log line.
            reason = printable_prefix(f"{type(error).__name__}: {error}", MAX_REASON_CHARS)
            logger.warning("LLM summary of paper %s fell back to extractive: %s", paper.id, reason)
            summary = self.fallback.summarize(paper)
            summary.fallback_reason = reason
            summary.model = self.model
            if completion is not None:
                summary.prompt_tokens = completion.prompt_tokens
                summary.completion_tokens = completion.completion_tokens
        summary.duration_s = time.perf_counter() - started
        return summary

    def summarize_many(self, papers: Sequence[PaperText]) -> list[StructuredSummary]:
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(self.summarize, papers))

    def _complete_with_retries(self, paper: PaperText) -> Completion:
        retrying = retry(
            retry=retry_if_exception_type(TransientError),
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait_for_server,
            reraise=True,
        )
        return retrying(self._complete)(paper)

    def _wait_for_server(self, retry_state: Any) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, TransientError) and error.retry_after_s is not None:
            return min(error.retry_after_s, MAX_RETRY_AFTER_S)
        return float(self._backoff(retry_state))

    def _complete(self, paper: PaperText) -> Completion:
        body = {
            "model": self.model,
            "temperature": 0,
            "response_format": {"type": "json_object"},
            "messages": [
                {"role": "system", "content": self._system_prompt()},
                {"role": "user", "content": f"Title: {paper.title}\n\nAbstract: {paper.abstract}"},
            ],
        }
        with self._slots:
            try:
                response = self._client.post("/chat/completions", json=body)
            except httpx.TimeoutException as error:
                raise TransientError(f"LLM request timed out: {error!r}") from error
            except httpx.TransportError as error:
                raise TransientError(f"LLM connection failed: {error!r}") from error
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientError(
                f"LLM server answered {response.status_code}", _retry_after_s(response.headers)
            )
        if response.status_code >= 400:
            raise PermanentError(f"LLM server answered {response.status_code}: {response.text[:200]}")
        try:
            payload = response.json()
            content = payload["choices"][0]["message"]["content"]
            usage = payload.get("usage") or {}
        except (ValueError, KeyError, IndexError, TypeError) as error:
            raise PermanentError(f"LLM response is not a chat completion: {error!r}") from error
        if not isinstance(content, str):
            raise PermanentError("LLM response has no text content")
        return Completion(content, usage.get("prompt_tokens"), usage.get("completion_tokens"))

    def _system_prompt(self) -> str:
        prompt = SYSTEM_PROMPT + _taxonomy_lines()
        if self.language != DEFAULT_LANGUAGE:
            prompt += LANGUAGE_INSTRUCTION.format(language=LANGUAGES[self.language][1])
        return prompt

    def _accept(self, paper: PaperText, completion: Completion) -> StructuredSummary:
        try:
            answer = LLMAnswer.model_validate(json.loads(_strip_code_fence(completion.content)))
        except (ValueError, ValidationError) as error:
            raise PermanentError(f"LLM answer is not the requested JSON: {str(error)[:300]}") from error
        answer_text = " ".join(
            [*answer.key_points, answer.summary, answer.methodology, answer.results, answer.implications]
        )
        # Readers take these for the newsletter's own words: a link in them is one the newsletter seems to
        # give, and only a hostile abstract asks for one (the offline summary leaves such sentences out).
        if has_autolink(answer_text):
            raise PermanentError("link guard: the answer states a link, URL or address")
        invented = unsupported_numbers(answer_text, f"{paper.title} {paper.abstract}")
        if invented:
            raise PermanentError(f"faithfulness guard: numbers absent from the paper: {', '.join(invented)}")
        topics = [t for t in dict.fromkeys(answer.topics) if is_known_topic(t)][:MAX_TAGS]
        return StructuredSummary(
            key_points=[point.strip() for point in answer.key_points[:4]],
            summary=_first_sentences(answer.summary),
            methodology=_first_sentences(answer.methodology),
            results=_first_sentences(answer.results),
            implications=_first_sentences(answer.implications),
            # An answer without a valid tag still gets tags, from the offline tagger.
            topics=topics or tag_topics(paper.title, paper.abstract, paper.categories),
            backend=BACKEND,
            model=self.model,
            backend_version=BACKEND_VERSION,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
        )


def _retry_after_s(headers: httpx.Headers) -> float | None:
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        # The HTTP-date form: not worth parsing for a short-lived summarization call.
        return None


def _strip_code_fence(content: str) -> str:
    text = content.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[-1].rsplit("```", 1)[0]
    return text


def _first_sentences(text: str) -> str:
    split = split_sentences(text)
    sentences = split.sentences[:MAX_SECTION_SENTENCES]
    return " ".join(sentences) if sentences else text.strip()


def _taxonomy_lines() -> str:
    return "\n".join(f"- {name}: {description}" for name, description in load_taxonomy().items())
