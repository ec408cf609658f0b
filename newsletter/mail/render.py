"""One pure function renders every email: subject, plain text and HTML from a plain-data context.

MJML is slow to compile (a few milliseconds), an edition must render in well under one, so each `.mjml`
template is compiled once per process in two stages:

1. Assembly: the `.mjml` file, its layout and partials are joined with a Jinja environment whose
   delimiters are `[% ... %]` / `[[ ... ]]` (load-time only), then mjml-python compiles the result to
   HTML. Per-email tags (`{{ paper.title }}`, `{% for %}`) pass through untouched: loops and
   conditionals around MJML components sit in `<mj-raw>`, which MJML copies verbatim.
2. Per email: that HTML is a cached Jinja template with autoescape on, rendered with the context.

Text parts are not HTML-escaped; every value has its control, direction-changing and invisible characters
(NUL, bidi overrides, zero-width spaces, ...; `plaintext.characters`) removed instead, in HTML too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template
from markupsafe import Markup
from mjml import mjml2html

from newsletter.plaintext.characters import without_hidden
from newsletter.plaintext.shorten import shorten

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates" / "email"
EMAIL_NAMES = ("edition", "nothing_new", "confirmation", "welcome", "unsubscribed", "manage", "data_link")


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str
    # Link slot name -> the random key that stands for a recipient's own URL in subject, text and html.
    link_slots: Mapping[str, str] = field(default_factory=dict)


def _finalize(value: Any) -> Any:
    # Markup is already-escaped template output (a macro, a filter); cleaning it would re-escape it.
    if isinstance(value, str) and not isinstance(value, Markup):
        return without_hidden(value)
    return value


class _PlainDataEnvironment(Environment):
    """`{{ paper.title }}` on a context dict reads the key first: Jinja's default tries the attribute first,
    and the AttributeError it raises for every dict key was a third of an edition's rendering time."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


@lru_cache(maxsize=1)
def _runtime_environment() -> Environment:
    environment = _PlainDataEnvironment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        # select_autoescape() does not know `.mjml`: HTML-producing templates are named explicitly.
        autoescape=lambda name: name is None or name.endswith((".mjml", ".html")),  # noqa: S701
        finalize=_finalize,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    environment.filters["shorten"] = shorten
    return environment


@lru_cache(maxsize=1)
def _assembly_environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        block_start_string="[%",
        block_end_string="%]",
        variable_start_string="[[",
        variable_end_string="]]",
        comment_start_string="[#",
        comment_end_string="#]",
        # Assembly joins template source only; no data passes through this environment.
        autoescape=False,  # noqa: S701
        undefined=StrictUndefined,
    )


@cache
def compiled_html_template(name: str) -> Template:
    """The `.mjml` template assembled and compiled to HTML once; a Jinja template with autoescape on."""
    mjml_source = _assembly_environment().get_template(f"{name}.mjml").render()
    # fonts={}: MJML would otherwise add a <link> and @import of Google Fonts for Roboto, a request to a
    # third party on every open. The font stacks are system fonts only.
    html = mjml2html(mjml_source, fonts={})
    # from_string templates have no name; autoescape(None) is True in the runtime environment.
    return _runtime_environment().from_string(html)


def _text_template(filename: str) -> Template:
    return _runtime_environment().get_template(filename)


def render_email(name: str, context: dict[str, Any]) -> RenderedEmail:
    if name not in EMAIL_NAMES:
        raise ValueError(f"unknown email template {name!r}")
    subject = _text_template(f"{name}.subject.txt").render(context)
    # A subject is one line, whatever the titles in it contain.
    subject = " ".join(subject.split())
    text = _text_template(f"{name}.txt").render(context)
    html = compiled_html_template(name).render({**context, "subject": subject})
    return RenderedEmail(subject=subject, text=text, html=html, link_slots=context.get("link_slots", {}))
