"""Subscribers, what they follow, and the consent trail behind each of them."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    Time,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import INET, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from newsletter.models.base import Base, created_at_column, one_of

SUBSCRIBER_STATUSES = ("pending", "active", "paused", "unsubscribed", "bounced", "complained")
# Addresses in these states never receive bulk email again without a fresh confirmation.
SUPPRESSED_STATUSES = ("unsubscribed", "bounced", "complained")
# Why an address is suppressed (`subscribers.service.SUPPRESSION_REASONS` says what each one does).
SuppressionReason = Literal["unsubscribe", "bounce", "complaint"]
FREQUENCIES = ("daily", "weekly")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")  # weekly_day 0-6
CONSENT_ACTIONS = (
    "signup",
    "confirm",
    "import",
    "operator_add",
    "preferences",
    "pause",
    "resume",
    "unsubscribe",
    "bounce",
    "complaint",
    "delete",
)


class Subscriber(Base):
    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    frequency: Mapped[str] = mapped_column(String(8), default="daily", server_default="daily")
    # 0 = Monday, as in Python's date.weekday(); used by weekly subscribers.
    weekly_day: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    send_time: Mapped[time] = mapped_column(Time, default=time(7, 0), server_default="07:00")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    max_papers: Mapped[int] = mapped_column(SmallInteger, default=10, server_default="10")
    # The language of the summaries in this reader's editions (titles stay as published).
    summary_language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")
    wants_empty_note: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    created_at: Mapped[datetime] = created_at_column()
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status_changed_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        # One subscriber per address, whatever its case.
        Index("uq_subscribers_email_lower", func.lower(email), unique=True),
        Index("ix_subscribers_status", "status"),
        CheckConstraint(one_of("status", SUBSCRIBER_STATUSES), name="status"),
        CheckConstraint(one_of("frequency", FREQUENCIES), name="frequency"),
        CheckConstraint("weekly_day BETWEEN 0 AND 6", name="weekly_day"),
        CheckConstraint("max_papers BETWEEN 1 AND 50", name="max_papers"),
    )


class SubscriberTopic(Base):
    __tablename__ = "subscriber_topics"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[int] = mapped_column(
        ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class KeywordAlert(Base):
    __tablename__ = "keyword_alerts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    keyword: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (UniqueConstraint("subscriber_id", "keyword"),)


class ConsentEvent(Base):
    """Who consented, when, how and to what wording, and when they withdrew (GDPR)."""

    __tablename__ = "consent_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # Kept after the subscriber is deleted: the proof of consent and withdrawal outlives the row.
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="SET NULL"), index=True
    )
    email: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = created_at_column()
    ip: Mapped[str | None] = mapped_column(INET)
    user_agent: Mapped[str | None] = mapped_column(Text)
    wording_version: Mapped[str | None] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(64), default="web", server_default="web")
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")

    __table_args__ = (CheckConstraint(one_of("action", CONSENT_ACTIONS), name="action"),)
