"""Reading browser forms into the domain's raw form objects (validation itself is the domain's)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from starlette.datastructures import FormData

from newsletter.subscribers.validation import PreferencesForm, SignupForm

HONEYPOT_FIELD = "website"
MAX_FIELD_CHARS = 4000


def _text(form: FormData, name: str, default: str = "") -> str:
    value = form.get(name, default)
    if not isinstance(value, str):
        raise HTTPException(status_code=422, detail="Files cannot be uploaded here.")
    if len(value) > MAX_FIELD_CHARS:
        raise HTTPException(status_code=422, detail=f"The field {name} is too long.")
    return value


def _texts(form: FormData, name: str) -> list[str]:
    values = form.getlist(name)
    if not all(isinstance(value, str) for value in values):
        raise HTTPException(status_code=422, detail="Files cannot be uploaded here.")
    return [str(value) for value in values]


def _preferences(form: FormData) -> PreferencesForm:
    return PreferencesForm(
        topics=_texts(form, "topics"),
        keywords=_text(form, "keywords"),
        frequency=_text(form, "frequency", "daily"),
        weekly_day=_text(form, "weekly_day", "0"),
        send_time=_text(form, "send_time", "07:00"),
        # A zone typed in (not in the short menu) wins over the menu's choice.
        timezone=_text(form, "timezone_other").strip() or _text(form, "timezone", "UTC"),
        summary_language=_text(form, "summary_language"),
    )


async def read_preferences_form(request: Request) -> PreferencesForm:
    return _preferences(await request.form())


async def read_signup_form(request: Request) -> tuple[SignupForm, bool]:
    """The form, and whether the honeypot (a field hidden from people) was filled in."""
    form = await request.form()
    signup = SignupForm(email=_text(form, "email"), **vars(_preferences(form)))
    return signup, bool(_text(form, HONEYPOT_FIELD).strip())


PreferencesFormDep = Annotated[PreferencesForm, Depends(read_preferences_form)]
SignupFormDep = Annotated[tuple[SignupForm, bool], Depends(read_signup_form)]
