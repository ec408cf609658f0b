"""Building a complete MIME message with every header, from a rendered email and one recipient.

Header values come from settings and from subscriber data; CR, LF and other control characters are
removed from every one of them, and addresses go through `email.headerregistry.Address`, so no field can
add a header of its own.

A recipient's own links reach only the link slots the template owns: the rendered email names each slot
by a random key made for that rendering (`RenderedEmail.link_slots`), which no paper text can spell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime, make_msgid
from typing import Any

from newsletter.config import Settings
from newsletter.errors import PermanentError
from newsletter.links import urls as links
from newsletter.mail.render import RenderedEmail
from newsletter.plaintext.characters import without_hidden

LIST_UNSUBSCRIBE_POST = "List-Unsubscribe=One-Click"
# RFC 5322 dot-atom on both sides of the @: every address signup stores; anything else is parsed fully.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
PLAIN_ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# Headers whose value is a list of <URL>s (RFC 2369): a parser must find each URL literally.
URL_LIST_HEADERS = frozenset({"list-unsubscribe", "list-help", "list-subscribe", "list-archive"})
URL_ITEM = re.compile(r"<[^<>\s]*>")
# RFC 5322 §2.1.1: a line MUST NOT pass 998 characters; 78 is only a SHOULD.
MAX_HEADER_LINE = 998


# Headers of free text (RFC 5322 "unstructured") that may hold non-ASCII.
TEXT_HEADERS = frozenset({"subject"})


class MailPolicy(EmailPolicy):
    """The default policy, except that URL-list headers are folded only between their `<…>` items, and
    a free-text header with non-ASCII is folded between encoded words.

    The default folds a value longer than 78 characters into RFC 2047 encoded words
    (`=?utf-8?q?=3Chttps=3A//…?=`), and a mail provider then no longer sees the one-click URL at all.
    For a long non-ASCII subject it keeps the space before a fold that precedes an encoded word
    (`Update \n =?utf-8?q?Strategy=E2=80=A6?=`), which mail programs read as two spaces; between encoded
    words a fold reads as nothing (RFC 2047 §6.2).
    """

    def _fold(self, name: str, value: Any, refold_binary: bool = False) -> str:
        if name.lower() in TEXT_HEADERS and not str(value).isascii():
            folded = Header(str(value), "utf-8", header_name=name).encode(
                linesep=self.linesep, maxlinelen=self.max_line_length
            )
            return f"{name}: {folded}{self.linesep}"
        items = URL_ITEM.findall(str(value))
        plain = str(value).isascii() and ", ".join(items) == " ".join(str(value).split())
        if name.lower() not in URL_LIST_HEADERS or not items or not plain:
            return super()._fold(name, value, refold_binary=refold_binary)  # type: ignore[misc]
        if any(len(name) + len(item) + 3 > MAX_HEADER_LINE for item in items):
            raise ValueError(f"{name}: a URL longer than a header line may be")
        return f"{name}: " + f",{self.linesep} ".join(items) + self.linesep


MAIL_POLICY = MailPolicy()


def clean_header_value(value: str) -> str:
    """One line, no control or hidden characters, no RFC 2047 encoded word: a header value can never start
    another header. Python's email library decodes an encoded word in a value it is given (a paper titled
    `=?utf-8?q?=0ABcc:_x@evil.example?=` would become a line break and a Bcc header) and writes what it
    decoded; a space after `=` leaves the text readable and makes it no encoded word."""
    value = " ".join(without_hidden(value.replace("\r", " ").replace("\n", " ")).split())
    return value.replace("=?", "= ?")


def make_address(display_name: str, addr_spec: str) -> Address:
    try:
        return Address(display_name=clean_header_value(display_name), addr_spec=clean_header_value(addr_spec))
    except (ValueError, IndexError) as error:  # headerregistry's parser rejects malformed addresses
        raise PermanentError(f"not a valid email address: {addr_spec!r}") from error


def is_sendable_address(addr_spec: str) -> bool:
    """Whether the address as stored can be the To of a message unchanged (rows from before addresses
    were checked may hold line breaks or non-ASCII local parts, which no backend can deliver)."""
    if PLAIN_ADDRESS.fullmatch(addr_spec):
        return True
    try:
        return make_address("", addr_spec).addr_spec == addr_spec
    except PermanentError:
        return False


def sender_domain(settings: Settings) -> str:
    return settings.sender_address.rpartition("@")[2] or "localhost"


def list_id(settings: Settings) -> str:
    return f"{clean_header_value(settings.sender_name)} <daily.{sender_domain(settings)}>"


@dataclass(frozen=True)
class Recipient:
    """One email of a batch: who, which delivery row, and this recipient's own link values."""

    delivery_id: int
    subscriber_id: int
    email: str
    # Link slot name (`preferences`, `unsubscribe`, `view_in_browser`) -> this recipient's URL.
    links: dict[str, str] = field(default_factory=dict)
    is_bulk: bool = True


def unsubscribe_headers(settings: Settings, subscriber_id: int) -> dict[str, str]:
    """RFC 2369 / RFC 8058 headers: a signed one-click https URL first, a mailto as the fallback."""
    one_click = links.one_click_unsubscribe_url(settings, subscriber_id)
    mailto = f"mailto:{settings.reply_to or settings.sender_address}?subject=unsubscribe"
    return {
        "List-Unsubscribe": f"<{clean_header_value(one_click)}>, <{clean_header_value(mailto)}>",
        "List-Unsubscribe-Post": LIST_UNSUBSCRIBE_POST,
    }


def personal_headers(settings: Settings, recipient: Recipient) -> dict[str, str]:
    """Headers that differ per recipient (also sent as SendGrid personalization headers)."""
    headers = {"X-Newsletter-Delivery-Id": str(recipient.delivery_id)}
    if recipient.is_bulk:
        headers.update(unsubscribe_headers(settings, recipient.subscriber_id))
        headers["List-Id"] = list_id(settings)
    return headers


def slot_values(rendered: RenderedEmail, recipient: Recipient) -> dict[str, str]:
    """The rendering's random slot keys -> this recipient's URLs (also SendGrid's `substitutions`)."""
    missing = set(rendered.link_slots) - set(recipient.links)
    if missing:
        raise ValueError(f"delivery {recipient.delivery_id} has no value for link slots {sorted(missing)}")
    return {key: recipient.links[name] for name, key in rendered.link_slots.items()}


def fill_link_slots(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace(key, value)
    return text


def build_message(settings: Settings, rendered: RenderedEmail, recipient: Recipient) -> EmailMessage:
    values = slot_values(rendered, recipient)
    message = EmailMessage(policy=MAIL_POLICY)
    message["Subject"] = clean_header_value(fill_link_slots(rendered.subject, values))
    message["From"] = make_address(settings.sender_name, settings.sender_address)
    message["To"] = make_address("", recipient.email)
    if settings.reply_to:
        message["Reply-To"] = make_address("", settings.reply_to)
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(idstring=f"d{recipient.delivery_id}", domain=sender_domain(settings))
    for name, value in personal_headers(settings, recipient).items():
        message[name] = clean_header_value(value)
    message.set_content(fill_link_slots(rendered.text, values))
    message.add_alternative(fill_link_slots(rendered.html, values), subtype="html")
    return message
