"""Rendering of message templates. Pure: imports nothing from Django.

Marketers write templates in Jinja; they run in a narrowed, bounded sandbox (sandbox.py).
The public API:

- context: `message_context(customer=CustomerData(...), segment=SegmentData(...),
  links={"unsubscribe": url, ...}, shop=ShopData(...), offer=OfferData(...) | None)`, and
  `SAMPLE_CONTEXT` for checks and previews;
- `compile_template(channel, subject=, html=, text=, body=, opt_out_text=)` ->
  CompiledEmail | CompiledSms, once per template per run; raises TemplateInvalid;
- `compiled.render(context, track=None)` -> RenderedEmail | RenderedSms per message; raises
  RenderError. `track(url, index) -> str` rewrites each http(s) link;
- `check_template(channel, subject=, html=, text=, body=, context=None, opt_out_text=)` ->
  list[Problem], when a template is saved;
- `sms_length(text)` -> SmsLength (encoding, units, segments, first_ucs2);
- `html_to_text(html)`, `list_unsubscribe_headers(url)`.
"""

from .checks import check_template
from .context import (
    CONTEXT_NAMES,
    SAMPLE_CONTEXT,
    CustomerData,
    OfferData,
    SegmentData,
    ShopData,
    message_context,
)
from .errors import Problem, RenderError, TemplateInvalid
from .html_text import html_to_text
from .links import Track, list_unsubscribe_headers
from .sms import MAX_SMS_CHARACTERS, SmsLength, sms_length, ucs2_warning
from .templates import (
    DEFAULT_OPT_OUT_TEXT,
    CompiledEmail,
    CompiledSms,
    CompiledTemplate,
    RenderedEmail,
    RenderedSms,
    compile_template,
)

__all__ = [
    "CONTEXT_NAMES",
    "DEFAULT_OPT_OUT_TEXT",
    "MAX_SMS_CHARACTERS",
    "SAMPLE_CONTEXT",
    "CompiledEmail",
    "CompiledSms",
    "CompiledTemplate",
    "CustomerData",
    "OfferData",
    "Problem",
    "RenderError",
    "RenderedEmail",
    "RenderedSms",
    "SegmentData",
    "ShopData",
    "SmsLength",
    "TemplateInvalid",
    "Track",
    "check_template",
    "compile_template",
    "html_to_text",
    "list_unsubscribe_headers",
    "message_context",
    "sms_length",
    "ucs2_warning",
]
