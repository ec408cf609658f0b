"""The delivery ledger: a row per email, written before anything is sent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from newsletter.models.base import Base, created_at_column, one_of

DELIVERY_STATES = ("pending", "sending", "sent", "failed", "unknown")
FINAL_DELIVERY_STATES = ("sent", "failed")
DELIVERY_KINDS = ("edition", "confirmation", "welcome", "unsubscribed", "manage", "data_link")


class Delivery(Base):
    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"), index=True)
    edition_id: Mapped[int | None] = mapped_column(ForeignKey("editions.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16), default="edition", server_default="edition")
    state: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    backend: Mapped[str | None] = mapped_column(String(16))
    provider_message_id: Mapped[str | None] = mapped_column(String(255), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set, and committed, just before the rows go to the backend: a claim a dead worker left without it
    # was certainly never sent and can go back to pending.
    handed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        # At most one email per subscriber per edition.
        Index(
            "uq_deliveries_edition_id",
            "edition_id",
            unique=True,
            postgresql_where=text("edition_id IS NOT NULL"),
        ),
        Index("ix_deliveries_state", "state"),
        CheckConstraint(one_of("state", DELIVERY_STATES), name="state"),
        CheckConstraint(one_of("kind", DELIVERY_KINDS), name="kind"),
    )
