"""Rendering a subscriber's edition with their real links, without sending (previews, the browser view)."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from newsletter.config import Settings
from newsletter.digests.queries import edition_view
from newsletter.errors import NotFound
from newsletter.mail.context import edition_context, template_name_for
from newsletter.mail.render import RenderedEmail, render_email
from newsletter.models import Edition, Subscriber


def preview_edition(
    session: Session, settings: Settings, subscriber: Subscriber, edition_date: date | None
) -> RenderedEmail:
    view = edition_view(session, subscriber, edition_date)
    if view.kind == "skipped":
        raise NotFound(
            f"{view.email} has no email on {view.edition_date}: nothing matched and no note was wanted"
        )
    return render_edition(session, settings, view.edition_id)


def render_edition(session: Session, settings: Settings, edition_id: int) -> RenderedEmail:
    edition = session.get(Edition, edition_id)
    if edition is None:
        raise NotFound(f"edition {edition_id} does not exist")
    return render_email(template_name_for(edition.kind), edition_context(session, settings, edition_id))
