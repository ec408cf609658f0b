"""POST /webhooks/sendgrid: verify, store, answer 200 quickly; a task processes the stored events."""

from __future__ import annotations

import logging
import time

from fastapi import APIRouter, HTTPException, Request

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.errors import InvalidInput
from newsletter.mail.webhook import store_events, verify_signature
from newsletter.web.deps import SessionFactoryDep, SettingsDep

logger = logging.getLogger(__name__)
router = APIRouter()
MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_TIMESTAMP_AGE_S = 600
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"


async def read_capped_body(request: Request) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise HTTPException(status_code=413, detail="webhook body larger than 10 MB")
        chunks.append(chunk)
    return b"".join(chunks)


def check_signature(settings: Settings, request: Request, raw_body: bytes) -> None:
    signature = request.headers.get(SIGNATURE_HEADER, "")
    timestamp = request.headers.get(TIMESTAMP_HEADER, "")
    if not signature or not timestamp:
        raise HTTPException(status_code=403, detail="missing webhook signature")
    try:
        age = abs(time.time() - int(timestamp))
    except ValueError as error:
        raise HTTPException(status_code=403, detail="invalid webhook timestamp") from error
    # A captured request replayed later carries a valid signature but an old timestamp.
    if age > MAX_TIMESTAMP_AGE_S:
        raise HTTPException(status_code=403, detail="stale webhook timestamp")
    if not verify_signature(settings.sendgrid_webhook_public_key, signature, timestamp, raw_body):
        raise HTTPException(status_code=403, detail="invalid webhook signature")


@router.post("/webhooks/sendgrid")
async def sendgrid_events(
    request: Request, settings: SettingsDep, session_factory: SessionFactoryDep
) -> dict[str, int]:
    if not settings.sendgrid_webhook_public_key:
        # Unsigned events could unsubscribe anyone: without the key, none are taken.
        raise HTTPException(
            status_code=503, detail="event webhook not configured (NEWSLETTER_SENDGRID_WEBHOOK_PUBLIC_KEY)"
        )
    raw_body = await read_capped_body(request)
    check_signature(settings, request, raw_body)
    try:
        with session_scope(session_factory) as session:
            report = store_events(session, raw_body)
    except InvalidInput as error:
        raise HTTPException(status_code=400, detail=str(error)) from error
    logger.info(
        "webhook: %d stored, %d duplicates, %d skipped", report.stored, report.duplicates, len(report.skipped)
    )
    return {"stored": report.stored, "duplicates": report.duplicates, "skipped": len(report.skipped)}
