"""The product's error types; web, workers and the CLI map these to answers."""

from __future__ import annotations


class NewsletterError(Exception):
    """Base of every error the product raises on purpose."""


class NotFound(NewsletterError):
    """A row or resource that was asked for does not exist."""


class InvalidInput(NewsletterError):
    """Input from outside failed validation; the message says what and why, `field` which form field
    (so a form can show the message beside it), `fields` every field's message when a whole form was
    checked at once."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.fields: dict[str, str] = {field: message} if field else {}

    @classmethod
    def of_fields(cls, problems: dict[str, str]) -> InvalidInput:
        """One error for a form with several wrong fields: each keeps its message, all are said."""
        error = cls(" ".join(problems.values()), next(iter(problems)))
        error.fields = dict(problems)
        return error


class InvalidToken(NewsletterError):
    """A signed link was tampered with, expired, or made for another purpose."""


class TransientError(NewsletterError):
    """A failure worth retrying: timeouts, 429, 5xx, a dropped connection."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class PermanentError(NewsletterError):
    """A failure that will not go away by retrying: other 4xx, malformed answers."""
