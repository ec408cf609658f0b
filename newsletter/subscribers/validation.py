"""Strict parsing of what a signup form, the preference center, a CSV row or an operator gives us."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import time
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.orm import Session

from newsletter.errors import InvalidInput
from newsletter.models import Topic
from newsletter.models.subscriber import FREQUENCIES

T = TypeVar("T")

MAX_EMAIL_CHARS = 254
MAX_LOCAL_PART_OCTETS = 64
MAX_DOMAIN_OCTETS = 255
MAX_KEYWORDS = 20
MAX_KEYWORD_CHARS = 60
MAX_TOPICS = 15
SEND_TIME_PATTERN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
# Control characters (CR/LF included) never belong in an address, a keyword or a zone name.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


@dataclass
class PreferencesForm:
    """Raw values as they come from a form or a CSV row; `validate_preferences` checks them."""

    topics: list[str] = field(default_factory=list)
    keywords: str | list[str] = ""
    frequency: str = "daily"
    weekly_day: str | int = 0
    send_time: str = "07:00"
    timezone: str = "UTC"
    # Only on the preferences page, and only while an LLM is configured; "" leaves it as it is.
    summary_language: str = ""


@dataclass
class SignupForm(PreferencesForm):
    email: str = ""


@dataclass(frozen=True)
class Preferences:
    topic_ids: list[int]
    topic_names: list[str]
    keywords: list[str]
    frequency: str
    weekly_day: int
    send_time: time
    timezone: str
    summary_language: str | None = None


def normalize_email(value: str) -> str:
    """The address as stored: validated syntax, lower-cased domain, no deliverability check (no DNS).

    An internationalized domain is stored in its ASCII (punycode) form, so both spellings are one
    subscriber and the address is the one providers send to and report back in webhooks. A non-ASCII
    local part is refused: it needs SMTPUTF8, which neither SendGrid nor a plain relay offers.
    """
    value = value.strip()
    if not value or CONTROL_CHARACTERS.search(value):
        raise InvalidInput("Please enter a valid email address.", "email")
    check_address_lengths(value)
    try:
        validated = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as error:
        raise InvalidInput("Please enter a valid email address.", "email") from error
    assert validated.ascii_email is not None  # always set when SMTPUTF8 is not allowed
    # The domain's ASCII form can be longer than what was typed (punycode).
    check_address_lengths(validated.ascii_email)
    return validated.ascii_email


def check_address_lengths(address: str) -> None:
    """RFC 5321 §4.5.3.1: a local part of at most 64 octets, a domain of at most 255, and a whole
    address of at most 254 (what fits in a forward path), each refused with its own reason."""
    local, _, domain = address.rpartition("@")
    if len(local.encode()) > MAX_LOCAL_PART_OCTETS:
        raise InvalidInput(
            f"The part before the @ can be at most {MAX_LOCAL_PART_OCTETS} characters; "
            f"this one has {len(local.encode())}.",
            "email",
        )
    if len(domain.encode()) > MAX_DOMAIN_OCTETS:
        raise InvalidInput(
            f"The part after the @ can be at most {MAX_DOMAIN_OCTETS} characters; "
            f"this one has {len(domain.encode())}.",
            "email",
        )
    if len(address.encode()) > MAX_EMAIL_CHARS:
        raise InvalidInput(
            f"An email address can be at most {MAX_EMAIL_CHARS} characters; this one has {len(address.encode())}.",
            "email",
        )


def topic_choices(session: Session) -> list[Topic]:
    """The taxonomy, in display order."""
    return list(session.execute(select(Topic).order_by(Topic.name)).scalars())


def resolve_topics(session: Session, values: list[str]) -> list[Topic]:
    """Topics by name or slug; unknown ones are an error, never silently dropped."""
    wanted = [value.strip() for value in values if value.strip()]
    if len(wanted) > MAX_TOPICS:
        raise InvalidInput("Too many topics.", "topics")
    known = topic_choices(session)
    by_key = {topic.slug: topic for topic in known} | {topic.name.lower(): topic for topic in known}
    unknown = [value for value in wanted if value.lower() not in by_key and value not in by_key]
    if unknown:
        raise InvalidInput(f"Unknown topic: {unknown[0][:64]}", "topics")
    resolved: dict[int, Topic] = {}
    for value in wanted:
        topic = by_key.get(value) or by_key[value.lower()]
        resolved[topic.id] = topic
    return list(resolved.values())


# A list pasted from notes: "- diffusion", "• LoRA", "1. rlhf", "2) mixture of experts". The marker is no
# part of the keyword (and a leading "-" would read as "without" to a search).
LIST_MARKER = re.compile(r"^(?:[-–—*•·‣◦+>]+|\d{1,3}[.)])\s*")


def parse_keywords(value: str | list[str]) -> list[str]:
    """Keywords separated by commas, semicolons or lines, each without a pasted list's bullet or number,
    de-duplicated case-insensitively, order kept."""
    parts = value if isinstance(value, list) else re.split(r"[,;\n]", value.replace("\r\n", "\n"))
    keywords: dict[str, str] = {}
    for part in parts:
        keyword = LIST_MARKER.sub("", " ".join(part.split()))
        if not keyword:
            continue
        if CONTROL_CHARACTERS.search(part.strip("\r\n")) or len(keyword) > MAX_KEYWORD_CHARS:
            raise InvalidInput(
                f"Keywords are plain words of at most {MAX_KEYWORD_CHARS} characters.", "keywords"
            )
        keywords.setdefault(keyword.lower(), keyword)
    if len(keywords) > MAX_KEYWORDS:
        raise InvalidInput(f"At most {MAX_KEYWORDS} keywords.", "keywords")
    return list(keywords.values())


# The mailbox providers most addresses are at: a typed domain one or two letters off one of them is far
# more often a typo than a real domain ("gmial.com").
COMMON_MAIL_DOMAINS = (
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "yahoo.com", "icloud.com",
    "me.com", "protonmail.com", "proton.me", "aol.com", "gmx.de", "gmx.net", "web.de", "mail.ru",
    "yandex.ru", "qq.com", "163.com", "mail.com", "gmx.com", "ymail.com", "msn.com", "fastmail.com",
    "zoho.com", "hey.com",
)  # fmt: skip


def suggested_address(address: str) -> str | None:
    """The address with a common provider's domain, when the typed domain looks like a typo of it
    ("alice@gmial.com" → "alice@gmail.com"); None when it is one, or like none."""
    local, at, domain = address.strip().rpartition("@")
    domain = domain.lower()
    if not at or not local or domain in COMMON_MAIL_DOMAINS:
        return None
    close = difflib.get_close_matches(domain, COMMON_MAIL_DOMAINS, n=1, cutoff=0.8)
    return f"{local}@{close[0]}" if close else None


def parse_timezone(value: str) -> str:
    """A time zone as chosen from the list or typed: its exact name, or its name in any case with spaces
    for underscores ("europe/berlin", "new york"), or a city only one zone is named after ("berlin").
    Zones named after no place ("EST", "CET": fixed offsets or old rules without the region's daylight
    saving) are refused with the region's zone to use instead."""
    value = value.strip()
    if not value or len(value) > 64 or CONTROL_CHARACTERS.search(value):
        raise InvalidInput("Please choose a time zone from the list.", "timezone")
    name = value if value in timezone_names() else _TIMEZONE_BY_KEY.get(_timezone_key(value))
    if name is None:
        raise InvalidInput(
            f"“{value}” is not a time zone we know: choose one from the list, or type one like "
            "Europe/Berlin or America/New_York.",
            "timezone",
        )
    if "/" not in name and name not in ("UTC", "GMT"):
        raise InvalidInput(
            f"“{value}” keeps no region's daylight saving time: choose your region's zone, such as "
            "America/New_York or Europe/Berlin.",
            "timezone",
        )
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidInput("Please choose a time zone from the list.", "timezone") from error
    return name


def _timezone_key(value: str) -> str:
    return "_".join(value.lower().replace("_", " ").split())


def timezone_names() -> frozenset[str]:
    return _TIMEZONES


def parse_send_time(value: str) -> time:
    match = SEND_TIME_PATTERN.match(value.strip())
    if match is None:
        raise InvalidInput("Send time must look like 07:30.", "send_time")
    return time(int(match.group(1)), int(match.group(2)))


def parse_frequency(value: str) -> str:
    if value not in FREQUENCIES:
        raise InvalidInput("Frequency must be daily or weekly.", "frequency")
    return value


def parse_weekly_day(value: str | int) -> int:
    try:
        day = int(value)
    except (TypeError, ValueError) as error:
        raise InvalidInput("Choose a day of the week.", "weekly_day") from error
    if not 0 <= day <= 6:
        raise InvalidInput("Choose a day of the week.", "weekly_day")
    return day


def parse_summary_language(value: str, offered: Mapping[str, str]) -> str | None:
    """The chosen summary language, None when none is offered or none was sent (nothing to change)."""
    if not offered or not value:
        return None
    if value not in offered:
        raise InvalidInput("Choose a language from the list.", "summary_language")
    return value


def validate_preferences(
    session: Session, form: PreferencesForm, offered_languages: Mapping[str, str] | None = None
) -> Preferences:
    """Every field checked, and every wrong one said at once (`InvalidInput.fields`), so a reader with
    several mistakes fixes them in one go."""
    problems: dict[str, str] = {}

    def checked(name: str, parse: Callable[[], T]) -> T | None:
        try:
            return parse()
        except InvalidInput as error:
            problems.setdefault(error.field or name, str(error))
            return None

    summary_language = checked(
        "summary_language", lambda: parse_summary_language(form.summary_language, offered_languages or {})
    )
    topics = checked("topics", lambda: resolve_topics(session, form.topics))
    keywords = checked("keywords", lambda: parse_keywords(form.keywords))
    if topics == [] and keywords == []:
        problems["topics"] = "Choose at least one topic or keyword."
    frequency = checked("frequency", lambda: parse_frequency(form.frequency))
    weekly_day = checked("weekly_day", lambda: parse_weekly_day(form.weekly_day))
    send_time = checked("send_time", lambda: parse_send_time(form.send_time))
    timezone = checked("timezone", lambda: parse_timezone(form.timezone))
    if problems:
        raise InvalidInput.of_fields(problems)
    assert topics is not None and keywords is not None and frequency is not None
    assert weekly_day is not None and send_time is not None and timezone is not None
    return Preferences(
        topic_ids=[topic.id for topic in topics],
        topic_names=[topic.name for topic in topics],
        keywords=keywords,
        frequency=frequency,
        weekly_day=weekly_day,
        send_time=send_time,
        timezone=timezone,
        summary_language=summary_language,
    )


_TIMEZONES = frozenset(available_timezones()) | {"UTC"}
# Each zone by its name in lower case with underscores, and by its city (of two zones for one city, the
# longer name: "America/Argentina/Buenos_Aires", not the older "America/Buenos_Aires").
_CITIES: dict[str, list[str]] = {}
for _name in sorted(_TIMEZONES):
    if "/" in _name and not _name.startswith(("Etc/", "SystemV/")):
        _CITIES.setdefault(_timezone_key(_name.rsplit("/", 1)[1]), []).append(_name)
_TIMEZONE_BY_KEY = {city: max(names, key=len) for city, names in _CITIES.items()} | {
    _timezone_key(name): name for name in _TIMEZONES
}
