"""The product's error types; web, workers and the CLI map these to answers."""


class NewsletterError(Exception):
    """Base of every error the product raises on purpose."""


class NotFound(NewsletterError):
    """A row or resource that was asked for does not exist."""


class InvalidInput(NewsletterError):
    """Input from outside failed validation; the message says what and why, `field` which form field
    (so a form can show the message beside it)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidToken(NewsletterError):
    """A signed link was tampered with, expired, or made for another purpose."""


class TransientError(NewsletterError):
    """A failure worth retrying: timeouts, 429, 5xx, a dropped connection."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class PermanentError(NewsletterError):
    """A failure that will not go away by retrying: other 4xx, malformed answers."""
