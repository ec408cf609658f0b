import time

import pytest
from itsdangerous import URLSafeTimedSerializer

from newsletter.config import Settings
from newsletter.errors import InvalidToken
from newsletter.links.tokens import make_token, read_token


def test_a_token_round_trips_for_its_purpose(settings: Settings) -> None:
    token = make_token(settings, "confirm", 42)
    assert read_token(settings, "confirm", token).subject_id == 42


def test_a_token_is_refused_for_another_purpose(settings: Settings) -> None:
    token = make_token(settings, "confirm", 42)
    with pytest.raises(InvalidToken):
        read_token(settings, "unsubscribe", token)


def test_a_tampered_token_is_refused(settings: Settings) -> None:
    token = make_token(settings, "preferences", 42)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    with pytest.raises(InvalidToken):
        read_token(settings, "preferences", tampered)


def test_a_token_signed_with_another_key_is_refused(settings: Settings) -> None:
    forged = URLSafeTimedSerializer("another-key", salt="newsletter.unsubscribe").dumps({"id": 42})
    with pytest.raises(InvalidToken):
        read_token(settings, "unsubscribe", forged)


def test_a_confirmation_token_expires_after_seven_days(settings: Settings, monkeypatch) -> None:
    token = make_token(settings, "confirm", 42)
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 7 * 86400 + 60)
    with pytest.raises(InvalidToken, match="expired"):
        read_token(settings, "confirm", token)
    monkeypatch.setattr(time, "time", lambda: now + 6 * 86400)
    assert read_token(settings, "confirm", token).subject_id == 42


def test_a_token_tells_when_it_was_signed(settings: Settings, monkeypatch) -> None:
    signed_at = time.time() - 3600
    monkeypatch.setattr(time, "time", lambda: signed_at)
    token = make_token(settings, "confirm", 42)
    monkeypatch.undo()
    assert abs(read_token(settings, "confirm", token).issued_at.timestamp() - signed_at) < 1
