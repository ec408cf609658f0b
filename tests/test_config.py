import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from newsletter.config import Settings

ENV_EXAMPLE = Path(__file__).resolve().parent.parent / ".env.example"


def make(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_defaults_match_the_documented_product_defaults() -> None:
    settings = make()
    assert settings.arxiv_categories == ["cs.LG", "cs.CL", "cs.CV", "cs.AI", "stat.ML"]
    assert settings.fetch_interval_hours == 8
    assert settings.mail_backend == "file"
    assert settings.summarizer == "extractive"
    assert settings.database_url is None and settings.redis_url is None
    assert settings.resolved_outbox_dir == Path("var") / "outbox"


@pytest.mark.parametrize("environment", ["production", "test"])
def test_every_environment_but_development_refuses_the_placeholder_secret(environment: str) -> None:
    with pytest.raises(ValidationError, match="placeholder"):
        make(environment=environment)


@pytest.mark.parametrize("placeholder", ["change-me", "CHANGEME", " secret ", ""])
def test_placeholders_are_refused_whatever_their_case_or_padding(placeholder: str) -> None:
    with pytest.raises(ValidationError, match="placeholder"):
        make(environment="production", secret_key=placeholder)


@pytest.mark.parametrize("environment", ["production", "test"])
def test_every_environment_but_development_refuses_a_short_secret(environment: str) -> None:
    with pytest.raises(ValidationError, match="at least 32"):
        make(environment=environment, secret_key="short-but-not-placeholder")


@pytest.mark.parametrize("environment", ["production", "test"])
def test_a_long_random_secret_is_accepted_outside_development(environment: str) -> None:
    settings = make(environment=environment, secret_key="x" * 40)
    assert settings.secret_key.get_secret_value() == "x" * 40


def test_development_allows_the_placeholder_secret() -> None:
    settings = make(environment="development")
    assert settings.secret_key.get_secret_value() == "dev-secret-change-me"


def test_the_test_suites_own_settings_pass_the_secret_rule(settings: Settings) -> None:
    assert settings.environment == "test"
    assert len(settings.secret_key.get_secret_value()) >= 32


def test_categories_read_from_a_comma_separated_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_ARXIV_CATEGORIES", "cs.LG, cs.RO")
    assert make().arxiv_categories == ["cs.LG", "cs.RO"]


def test_empty_urls_mean_the_embedded_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", "")
    monkeypatch.setenv("NEWSLETTER_REDIS_URL", " ")
    settings = make()
    assert settings.database_url is None and settings.redis_url is None


def test_unknown_mail_backend_is_a_clear_error() -> None:
    with pytest.raises(ValidationError, match="mail_backend"):
        make(mail_backend="pigeon")


def test_env_example_lists_every_setting_with_its_default() -> None:
    listed = dict(
        re.match(r"#?\s*(NEWSLETTER_[A-Z0-9_]+)=(.*)", line).groups()  # type: ignore[union-attr]
        for line in ENV_EXAMPLE.read_text().splitlines()
        if re.match(r"#?\s*NEWSLETTER_[A-Z0-9_]+=", line)
    )
    expected = {f"NEWSLETTER_{name.upper()}" for name in Settings.model_fields}
    assert set(listed) == expected
    defaults = make()
    for name in Settings.model_fields:
        value = getattr(defaults, name)
        shown = listed[f"NEWSLETTER_{name.upper()}"]
        if isinstance(value, list):
            assert shown == ",".join(value), name
        elif hasattr(value, "get_secret_value"):
            assert shown == value.get_secret_value(), name
        elif value is None:
            assert shown == "", name
        else:
            assert shown == str(value), name


def test_production_sendgrid_needs_both_its_keys() -> None:
    production = {"environment": "production", "secret_key": "x" * 40, "mail_backend": "sendgrid"}
    with pytest.raises(ValidationError, match="NEWSLETTER_SENDGRID_API_KEY and NEWSLETTER_SENDGRID_WEBHOOK"):
        make(**production)
    with pytest.raises(ValidationError, match="needs NEWSLETTER_SENDGRID_WEBHOOK_PUBLIC_KEY"):
        make(**production, sendgrid_api_key="SG.key")
    settings = make(**production, sendgrid_api_key="SG.key", sendgrid_webhook_public_key="MFkw…")
    assert settings.mail_backend == "sendgrid"
    # Outside production a developer may try the backend against a local stand-in without keys.
    assert make(mail_backend="sendgrid").sendgrid_api_key.get_secret_value() == ""
