"""What operators do from the command line: add one subscriber, import a CSV, list, remove."""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from newsletter.errors import InvalidInput
from newsletter.mail.transactional import create_transactional_delivery
from newsletter.models import KeywordAlert, Subscriber, SubscriberTopic, Topic
from newsletter.models.subscriber import SUBSCRIBER_STATUSES, WEEKDAYS
from newsletter.subscribers.consent import record_consent
from newsletter.subscribers.service import SignupResult, apply_preferences, find_subscriber_by_email
from newsletter.subscribers.validation import PreferencesForm, normalize_email, validate_preferences

logger = logging.getLogger(__name__)
MAX_IMPORT_ROWS = 100_000


@dataclass(frozen=True)
class SubscriberLine:
    id: int
    email: str
    status: str
    frequency: str
    weekly_day: int  # 0 = Monday; what a weekly subscriber's day is
    timezone: str
    send_time: time
    topics: list[str]
    keyword_count: int
    created_at: datetime

    @property
    def schedule(self) -> str:
        """How often they get an email: "daily", or "weekly (Tuesday)"."""
        return f"weekly ({WEEKDAYS[self.weekly_day]})" if self.frequency == "weekly" else self.frequency

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "email": self.email,
            "status": self.status,
            "frequency": self.frequency,
            "weekly_day": WEEKDAYS[self.weekly_day] if self.frequency == "weekly" else None,
            "timezone": self.timezone,
            "send_time": self.send_time.strftime("%H:%M"),
            "topics": self.topics,
            "keyword_count": self.keyword_count,
            "created_at": self.created_at.isoformat(),
        }


@dataclass
class ImportReport:
    imported: int = 0
    skipped: int = 0
    # (line number, reason) for every row that was not imported.
    errors: list[tuple[int, str]] = field(default_factory=list)


def add_subscriber_by_operator(
    session: Session,
    email: str,
    form: PreferencesForm,
    *,
    is_confirmed: bool,
    source: str,
    action: str = "operator_add",
) -> SignupResult:
    """A new subscriber; active at once if the operator vouches for prior consent, else pending with a
    confirmation email to enqueue. An address already known is an error (no silent overwrite)."""
    address = normalize_email(email)
    preferences = validate_preferences(session, form)
    if find_subscriber_by_email(session, address) is not None:
        raise InvalidInput(f"{address} is already a subscriber")
    subscriber = Subscriber(email=address, status="active" if is_confirmed else "pending")
    if is_confirmed:
        subscriber.confirmed_at = func.now()
    session.add(subscriber)
    session.flush()
    apply_preferences(session, subscriber, preferences)
    record_consent(
        session,
        subscriber_id=subscriber.id,
        email=address,
        action=action,
        source=source,
        details={"confirmed_by_operator": is_confirmed, "topics": preferences.topic_names},
    )
    delivery_id = (
        None if is_confirmed else create_transactional_delivery(session, subscriber.id, "confirmation")
    )
    return SignupResult(subscriber.id, delivery_id)


def _split_list(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").replace("|", ";").split(";") if part.strip()]


def import_subscribers_csv(session: Session, path: Path, consent_source: str) -> ImportReport:
    """Rows `email,topics,keywords,timezone,send_time,frequency` (topics and keywords `;`-separated),
    imported as active with `consent_source` recorded (where their consent was given). A bad or
    duplicate row is reported and skipped; the rest of the file is imported."""
    if not consent_source.strip():
        raise InvalidInput("an import needs a consent source (where these people agreed)")
    report = ImportReport()
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or "email" not in reader.fieldnames:
            raise InvalidInput("the CSV needs a header row with at least an `email` column")
        for row in reader:
            if reader.line_num > MAX_IMPORT_ROWS + 1:
                report.errors.append((reader.line_num, f"stopped after {MAX_IMPORT_ROWS} rows"))
                break
            form = PreferencesForm(
                topics=_split_list(row.get("topics")),
                keywords=_split_list(row.get("keywords")),
                timezone=(row.get("timezone") or "UTC").strip(),
                send_time=(row.get("send_time") or "07:00").strip(),
                frequency=(row.get("frequency") or "daily").strip(),
            )
            # A savepoint per row: one bad row never aborts the batch's transaction.
            savepoint = session.begin_nested()
            try:
                add_subscriber_by_operator(
                    session,
                    row.get("email") or "",
                    form,
                    is_confirmed=True,
                    source=consent_source,
                    action="import",
                )
            except InvalidInput as error:
                savepoint.rollback()
                report.skipped += 1
                report.errors.append((reader.line_num, str(error)))
                continue
            savepoint.commit()
            report.imported += 1
    logger.info("import from %s: %s imported, %s skipped", path, report.imported, report.skipped)
    return report


def list_subscribers(session: Session, status: str | None = None) -> list[SubscriberLine]:
    """Every subscriber, or those of one status (an unknown status is an error, not an empty list)."""
    if status is not None and status not in SUBSCRIBER_STATUSES:
        raise InvalidInput(f"Unknown status: {status[:32]}; one of {', '.join(SUBSCRIBER_STATUSES)}.")
    topics = (
        select(func.array_agg(Topic.name))
        .select_from(SubscriberTopic)
        .join(Topic, Topic.id == SubscriberTopic.topic_id)
        .where(SubscriberTopic.subscriber_id == Subscriber.id)
        .correlate(Subscriber)
        .scalar_subquery()
    )
    keyword_count = (
        select(func.count())
        .where(KeywordAlert.subscriber_id == Subscriber.id)
        .correlate(Subscriber)
        .scalar_subquery()
    )
    query = select(
        Subscriber.id,
        Subscriber.email,
        Subscriber.status,
        Subscriber.frequency,
        Subscriber.weekly_day,
        Subscriber.timezone,
        Subscriber.send_time,
        topics,
        keyword_count,
        Subscriber.created_at,
    ).order_by(Subscriber.id)
    if status is not None:
        query = query.where(Subscriber.status == status)
    return [
        SubscriberLine(sid, email, st, freq, day, zone, send, sorted(names or []), int(count), created)
        for sid, email, st, freq, day, zone, send, names, count, created in session.execute(query)
    ]
