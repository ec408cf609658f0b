"""The email a form's action wrote leaves after the answer: handed to the mail worker, or, when no worker
consumes the mail queue, sent by this process once the page has been sent (never inside the request)."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy.orm import Session, sessionmaker
from starlette.background import BackgroundTask
from starlette.responses import Response

from newsletter.config import Settings
from newsletter.subscribers.outbox import hand_over_delivery, send_here

Answer = TypeVar("Answer", bound=Response)


def deliver_after_answer(
    response: Answer, settings: Settings, factory: sessionmaker[Session], delivery_id: int | None
) -> Answer:
    if delivery_id is not None and hand_over_delivery(settings, delivery_id):
        response.background = BackgroundTask(send_here, factory, settings, delivery_id)
    return response
