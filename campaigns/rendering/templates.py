"""Compiled message templates: built once per template per campaign run, rendered per message.

    compiled = compile_template("email", subject=..., html=..., text="")
    for each recipient:
        message = compiled.render(context, track=sign_link)   # RenderedEmail

Compiling parses, checks and compiles every field to Python code once (the text part of an
email whose text is left empty is generated from the HTML then, as a template of its own);
rendering one message then only runs that code. A render that fails raises RenderError for
that message alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import meta

from .errors import RenderError, TemplateInvalid
from .html_text import html_to_text, tidy_text
from .links import LinkTracker, Track, list_unsubscribe_headers, mark_hrefs
from .sandbox import GENERATED_TEXT, HTML, TEXT, MessageEnvironment, compile_tree, parse, render
from .sms import MAX_SMS_CHARACTERS, SmsLength, sms_length

DEFAULT_OPT_OUT_TEXT = "Reply STOP to opt out"

# Output caps per field, in characters: far above any real message, low enough that a
# runaway template fails fast.
MAX_SUBJECT = 1_000
MAX_HTML = 1_000_000
MAX_TEXT = 500_000

CHANNELS = ("email", "sms")


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    html: str  # empty for a text-only email
    text: str
    headers: dict[str, str]  # List-Unsubscribe and List-Unsubscribe-Post (RFC 8058)
    links: tuple[str, ...] = ()  # the tracked URLs, by the index track() was given


@dataclass(frozen=True, slots=True)
class RenderedSms:
    body: str  # opt-out text included
    length: SmsLength
    links: tuple[str, ...] = ()


class _Field:
    """One compiled field: its name, its compiled template and the names it reads."""

    __slots__ = ("name", "compiled", "names")

    def __init__(self, env: MessageEnvironment, name: str, source: str):
        tree = parse(env, source, name)
        self.name = name
        self.names = frozenset(meta.find_undeclared_variables(tree))
        self.compiled = compile_tree(env, tree, name)

    def render(self, context: Mapping[str, Any], max_chars: int) -> str:
        return render(self.compiled, context, self.name, max_chars)


def _compile_fields(specs: list[tuple[MessageEnvironment, str, str]]) -> list[_Field]:
    """All fields compiled, or one TemplateInvalid with the problems of every field."""
    fields, problems = [], []
    for env, name, source in specs:
        try:
            fields.append(_Field(env, name, source))
        except TemplateInvalid as exc:
            problems.extend(exc.problems)
    if problems:
        raise TemplateInvalid(problems)
    return fields


class CompiledEmail:
    """An email template: subject, HTML and text parts.

    An empty `text` is generated from the HTML (see html_text); an empty `html` makes a
    text-only email. Every message needs `links.unsubscribe` in its context: it is the URL of
    the List-Unsubscribe header and is never rewritten into a tracked link.
    """

    channel = "email"

    def __init__(self, *, subject: str, html: str, text: str = ""):
        self.text_generated = not text.strip() and bool(html.strip())
        self.has_html = bool(html.strip())
        text_env = GENERATED_TEXT if self.text_generated else TEXT
        text_source = html_to_text(html) if self.text_generated else text
        specs = [(TEXT, "subject", subject), (HTML, "html", html), (text_env, "text", text_source)]
        self._subject, self._html, self._text = _compile_fields(specs)
        self.names = self._subject.names | self._html.names | self._text.names
        # The same parts with their links marked (see links.py), rendered when links are
        # tracked: a message is then split at the marks instead of searched for links.
        (self._html_marked,) = _compile_fields([(HTML, "html", mark_hrefs(html))])
        self._text_marked = self._text
        if self.text_generated:
            (self._text_marked,) = _compile_fields([(text_env, "text", html_to_text(html, mark_links=True))])

    def render(self, context: Mapping[str, Any], *, track: Track | None = None) -> RenderedEmail:
        try:
            unsubscribe = context["links"]["unsubscribe"]
        except (KeyError, TypeError):
            raise ValueError("an email's context needs links.unsubscribe, the one-click unsubscribe URL") from None
        subject = " ".join(self._subject.render(context, MAX_SUBJECT).split())
        if track is None:
            html = self._html.render(context, MAX_HTML) if self.has_html else ""
            text = self._text.render(context, MAX_TEXT)
            links: tuple[str, ...] = ()
        else:
            tracker = LinkTracker(track, keep=(unsubscribe,))
            html = tracker.marked_html(self._html_marked.render(context, MAX_HTML)) if self.has_html else ""
            text = self._text_marked.render(context, MAX_TEXT)
            # A generated text part has its links marked: its other URLs were not links in
            # the HTML either, and stay as they are.
            text = tracker.marked_text(text) if self.text_generated else tracker.text(text)
            links = tuple(tracker.urls)
        if self.text_generated:
            text = tidy_text(text)
        return RenderedEmail(subject, html, text, list_unsubscribe_headers(unsubscribe), links)


class CompiledSms:
    """An SMS template. The opt-out text is appended to a body that does not already carry
    it (compared case-insensitively) and counts towards the length."""

    channel = "sms"

    def __init__(self, *, body: str, opt_out_text: str = DEFAULT_OPT_OUT_TEXT):
        (self._body,) = _compile_fields([(TEXT, "body", body)])
        self.opt_out_text = opt_out_text.strip()
        self._opt_out_folded = self.opt_out_text.casefold()
        self.names = self._body.names

    def render(self, context: Mapping[str, Any], *, track: Track | None = None) -> RenderedSms:
        body = self._body.render(context, MAX_SMS_CHARACTERS).strip()
        if not body:
            raise RenderError("body", None, "the SMS is empty", "error")
        links: tuple[str, ...] = ()
        if track is not None:
            tracker = LinkTracker(track)
            body = tracker.text(body)
            links = tuple(tracker.urls)
        if self.opt_out_text and self._opt_out_folded not in body.casefold():
            body = f"{body}\n{self.opt_out_text}"
        if len(body) > MAX_SMS_CHARACTERS:
            message = f"the SMS is {len(body):,} characters long, over the {MAX_SMS_CHARACTERS:,} an SMS may have"
            raise RenderError("body", None, message, "too_large")
        return RenderedSms(body, sms_length(body), links)


CompiledTemplate = CompiledEmail | CompiledSms


def compile_template(
    channel: str,
    *,
    subject: str = "",
    html: str = "",
    text: str = "",
    body: str = "",
    opt_out_text: str = DEFAULT_OPT_OUT_TEXT,
) -> CompiledTemplate:
    """Compile an email (subject, html, text) or SMS (body) template once, for many messages.
    Raises TemplateInvalid with every problem found."""
    if channel == "email":
        return CompiledEmail(subject=subject, html=html, text=text)
    if channel == "sms":
        return CompiledSms(body=body, opt_out_text=opt_out_text)
    raise ValueError(f"unknown channel {channel!r}: expected one of {', '.join(CHANNELS)}")
