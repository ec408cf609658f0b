"""Settings: one typed class read from NEWSLETTER_* variables and `.env`."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PLACEHOLDER_SECRETS = {"", "change-me", "changeme", "secret", "dev-secret-change-me"}
MIN_SECRET_LENGTH = 32
DEFAULT_CATEGORIES = ["cs.LG", "cs.CL", "cs.CV", "cs.AI", "stat.ML"]
# From, Reply-To, List-Id and List-Unsubscribe are built from the sender settings and the base URL: one
# plain address each, no line breaks, or every send would fail (or reach SendGrid as it is).
PLAIN_ADDRESS = re.compile(r"^[^\s@,;:<>()\[\]\"\\]+@[^\s@,;:<>()\[\]\"\\]+\.[^\s@,;:<>()\[\]\"\\]+$")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSLETTER_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("var")
    # `json` writes one object per log line, for log collectors; `text` is for people.
    log_format: Literal["text", "json"] = "text"

    # Empty means: start (or reuse) the embedded server under the data dir.
    database_url: str | None = None
    redis_url: str | None = None
    # Every Redis key the product writes (limiter, rate limits, Celery queues) starts with this.
    redis_prefix: str = "newsletter:"

    secret_key: SecretStr = SecretStr("dev-secret-change-me")
    public_base_url: str = "http://127.0.0.1:8000"
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # The read-only admin page asks for this as its HTTP Basic password; empty turns the page off.
    admin_token: SecretStr = SecretStr("")
    # Prometheus sends it as `Authorization: Bearer …`; empty: /metrics answers 404 (outside the demo).
    metrics_token: SecretStr = SecretStr("")
    # Set by `newsletter demo` only: /metrics open without a token, localhost an allowed host.
    demo_mode: bool = False
    # Hugging Face's paper thumbnails on the site (loaded by each visitor's browser from Hugging Face's
    # thumbnail host). The demo turns them off: it runs offline, where each would be a failed request.
    site_thumbnails: bool = True
    # The emailed link that downloads or deletes a subscriber's data (sent on request, never printed in
    # a newsletter) works this long; "view in browser" links in editions work for `edition_link_days`.
    data_link_hours: float = Field(default=24.0, gt=0, le=24 * 30)
    edition_link_days: float = Field(default=90.0, gt=0)

    mail_backend: Literal["file", "smtp", "sendgrid"] = "file"
    outbox_dir: Path | None = None
    sendgrid_api_key: SecretStr = SecretStr("")
    sendgrid_base_url: str = "https://api.sendgrid.com"
    sendgrid_webhook_public_key: str = ""
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_tls: Literal["none", "starttls", "ssl"] = "none"
    smtp_user: str = ""
    smtp_password: SecretStr = SecretStr("")
    send_rate_per_s: float = 50.0
    send_max_errors: int = 100

    sender_name: str = "ML Papers Daily"
    sender_address: str = "papers@newsletter.example"
    reply_to: str = ""
    postal_address: str = "Newsletter, 1 Example Street, 10115 Berlin, Germany"

    arxiv_base_url: str = "https://export.arxiv.org"
    hf_base_url: str = "https://huggingface.co"
    arxiv_categories: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(DEFAULT_CATEGORIES))
    # The arXiv terms of use allow one request every 3 s for the whole deployment.
    arxiv_min_interval_s: float = 3.0
    http_timeout_s: float = 30.0
    # arXiv and Hugging Face calls: attempts per request, and the first backoff (it doubles, with jitter).
    http_max_attempts: int = Field(default=5, ge=1)
    http_backoff_base_s: float = Field(default=3.0, ge=0)
    fetch_interval_hours: float = 8.0
    # Connections storing fetched pages while the next page is fetched and parsed (each page commits on
    # its own); 0 stores them in the run's own transaction.
    ingest_writers: int = Field(default=2, ge=0, le=16)
    # Beat's tick for summarizing, building due editions and sending what is pending. Editions go out
    # at most this late after a subscriber's send time.
    editions_interval_s: float = Field(default=300.0, gt=0)

    summarizer: Literal["extractive", "llm"] = "extractive"
    llm_base_url: str = "http://127.0.0.1:8080/v1"
    llm_model: str = "gpt-4o-mini"
    llm_api_key: SecretStr = SecretStr("")
    llm_concurrency: int = 4
    llm_timeout_s: float = 60.0
    # What the LLM provider charges, in US dollars per million tokens: `newsletter stats` and /admin show
    # each day's cost with them (0 and 0: tokens only, no cost shown).
    llm_prompt_usd_per_million: float = 0.0
    llm_completion_usd_per_million: float = 0.0

    default_max_papers: int = 10
    max_papers_per_topic: int = 4

    @field_validator("arxiv_categories", "trusted_proxies", mode="before")
    @classmethod
    def split_comma_list(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip().startswith("["):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("database_url", "redis_url", mode="before")
    @classmethod
    def empty_url_means_embedded(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("sender_address", "reply_to")
    @classmethod
    def refuse_anything_but_one_address(cls, value: str, info: ValidationInfo) -> str:
        if (value or info.field_name == "sender_address") and not PLAIN_ADDRESS.match(value):
            raise ValueError(f"must be one plain email address like papers@example.org, got {value!r}")
        return value

    @field_validator("sender_name")
    @classmethod
    def refuse_line_breaks(cls, value: str) -> str:
        if CONTROL_CHARACTERS.search(value):
            raise ValueError(f"must be one line without control characters, got {value!r}")
        return value

    @field_validator("public_base_url")
    @classmethod
    def refuse_odd_base_url(cls, value: str) -> str:
        if (
            not value.startswith(("https://", "http://"))
            or re.search(r"\s", value)
            or CONTROL_CHARACTERS.search(value)
        ):
            raise ValueError(f"must be an http(s) URL without spaces, got {value!r}")
        return value

    @model_validator(mode="after")
    def refuse_placeholder_secret(self) -> Settings:
        # Development alone may run on the shipped key: test and production sign real links with it.
        if self.environment == "development":
            return self
        secret = self.secret_key.get_secret_value()
        if secret.strip().lower() in PLACEHOLDER_SECRETS:
            raise ValueError(
                f"NEWSLETTER_SECRET_KEY is a placeholder; set a long random value "
                f"(environment {self.environment!r} is not development)"
            )
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"NEWSLETTER_SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters "
                f"outside development (environment {self.environment!r})"
            )
        return self

    @model_validator(mode="after")
    def refuse_guessable_operator_tokens(self) -> Settings:
        # A short token falls to guessing even at the admin page's 10 tries a minute.
        if self.environment == "development" or self.demo_mode:
            return self
        for name, token in (("ADMIN_TOKEN", self.admin_token), ("METRICS_TOKEN", self.metrics_token)):
            value = token.get_secret_value()
            if value and len(value) < MIN_SECRET_LENGTH:
                raise ValueError(
                    f"NEWSLETTER_{name} must be at least {MIN_SECRET_LENGTH} characters outside development "
                    f"(environment {self.environment!r}); make one with: "
                    "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
                )
        return self

    @model_validator(mode="after")
    def require_sendgrid_keys_in_production(self) -> Settings:
        # Without the API key nothing goes out; without the webhook key bounces and complaints are refused.
        if self.environment == "production" and self.mail_backend == "sendgrid":
            missing = [
                name
                for name, value in (
                    ("NEWSLETTER_SENDGRID_API_KEY", self.sendgrid_api_key.get_secret_value()),
                    ("NEWSLETTER_SENDGRID_WEBHOOK_PUBLIC_KEY", self.sendgrid_webhook_public_key),
                )
                if not value.strip()
            ]
            if missing:
                raise ValueError(f"the sendgrid mail backend in production needs {' and '.join(missing)}")
        return self

    @property
    def resolved_outbox_dir(self) -> Path:
        return self.outbox_dir if self.outbox_dir is not None else self.data_dir / "outbox"

    def served_on(self, port: int) -> Settings:
        """These settings for a site served locally on `port`: emailed links point at that port unless a
        public base URL was configured (environment or `.env`)."""
        if "public_base_url" in self.model_fields_set:
            return self
        return self.model_copy(update={"public_base_url": f"http://127.0.0.1:{port}"})


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
