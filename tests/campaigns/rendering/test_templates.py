"""Compiled templates: compiled once, rendered per message, email and SMS."""

import dataclasses

import pytest

from campaigns.rendering import (
    SAMPLE_CONTEXT,
    CompiledEmail,
    CompiledSms,
    CustomerData,
    RenderError,
    TemplateInvalid,
    compile_template,
    list_unsubscribe_headers,
    message_context,
)
from campaigns.rendering.sandbox import HTML, TEXT

UNSUBSCRIBE = SAMPLE_CONTEXT["links"]["unsubscribe"]


def context_for(**customer):
    return {**SAMPLE_CONTEXT, "customer": dataclasses.replace(SAMPLE_CONTEXT["customer"], **customer)}


def tracked(url, index):
    return f"https://t.example/{index}"


def test_only_the_html_part_is_html_escaped():
    email = compile_template(
        "email",
        subject="{{ customer.first_name }} & co",
        html="<p>{{ customer.first_name }}</p>",
        text="Hi {{ customer.first_name }}",
    )

    rendered = email.render(context_for(first_name="<b>Tom & Jerry</b>"))

    assert rendered.html == "<p>&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;</p>"
    assert rendered.subject == "<b>Tom & Jerry</b> & co"
    assert rendered.text == "Hi <b>Tom & Jerry</b>"


def test_sms_bodies_are_not_escaped():
    sms = compile_template("sms", body="Hi {{ customer.first_name }}")

    assert sms.render(context_for(first_name="A&B <x>")).body.startswith("Hi A&B <x>")


def test_the_subject_is_one_line():
    email = compile_template("email", subject="Hi\n{{ customer.first_name }}\r\n  there ", html="x")

    assert email.render(context_for(first_name="Ada\nBcc: evil@example.com")).subject == "Hi Ada Bcc: evil@example.com there"


def test_an_empty_text_part_is_generated_from_the_html_once_with_link_urls_kept():
    email = compile_template(
        "email",
        subject="s",
        html=(
            "<h1>Hello {{ customer.first_name }}</h1>"
            "{% if customer.frequency > 100 %}<p>Never shown</p>{% endif %}"
            "<p>Use <b>{{ offer.code }}</b> &amp; save.</p>"
            '<p><a href="{{ links.shop }}">Shop now</a></p>'
        ),
    )

    assert email.text_generated
    assert email.render(SAMPLE_CONTEXT).text == (
        "Hello Ada\n\nUse SAMPLE10 & save.\n\nShop now (https://shop.example.com/)"
    )


def test_a_text_only_email_has_no_html_part():
    rendered = compile_template("email", subject="s", text="Hi {{ customer.first_name }}").render(SAMPLE_CONTEXT)

    assert (rendered.html, rendered.text) == ("", "Hi Ada")


def test_every_http_link_is_tracked_except_the_unsubscribe_link():
    email = compile_template(
        "email",
        subject="s",
        html=(
            '<a href="https://shop.example.com/a?x=1&amp;y=2">A</a> '
            "<A class='b' HREF='{{ links.shop }}'>B</A> "
            '<a href="mailto:help@example.com">help</a> '
            '<a href="https://shop.example.com/a?x=1&amp;y=2">A again</a> '
            '<link href="https://fonts.example.com/css"> '
            '<a href="{{ links.unsubscribe }}">unsubscribe</a>'
        ),
        text="A: https://shop.example.com/a?x=1&y=2. New: https://other.example.com/x, bye {{ links.unsubscribe }}",
    )
    calls = []

    def track(url, index):
        calls.append((url, index))
        return f"https://t.example/{index}?s=a&b"

    rendered = email.render(SAMPLE_CONTEXT, track=track)

    assert calls == [
        ("https://shop.example.com/a?x=1&y=2", 0),
        ("https://shop.example.com/", 1),
        ("https://other.example.com/x", 2),
    ]
    assert rendered.links == ("https://shop.example.com/a?x=1&y=2", "https://shop.example.com/", "https://other.example.com/x")
    assert rendered.html == (
        '<a href="https://t.example/0?s=a&amp;b">A</a> '
        "<A class='b' HREF='https://t.example/1?s=a&amp;b'>B</A> "
        '<a href="mailto:help@example.com">help</a> '
        '<a href="https://t.example/0?s=a&amp;b">A again</a> '
        '<link href="https://fonts.example.com/css"> '
        f'<a href="{UNSUBSCRIBE}">unsubscribe</a>'
    )
    assert rendered.text == (
        f"A: https://t.example/0?s=a&b. New: https://t.example/2?s=a&b, bye {UNSUBSCRIBE}"
    )


def test_the_generated_text_part_tracks_the_html_links_with_the_same_indexes():
    email = compile_template(
        "email",
        subject="s",
        html=(
            '<p><a href="{{ links.shop }}">Shop</a> or see https://shop.example.com/plain</p>'
            '<p><a href="https://shop.example.com/sale?a=1&amp;b=2">https://shop.example.com/sale?a=1&amp;b=2</a></p>'
            '<p><a href="{{ links.shop }}">Again</a> <a href="mailto:help@example.com">help</a> '
            '<a href="{{ links.unsubscribe }}">Unsubscribe</a></p>'
        ),
    )

    rendered = email.render(SAMPLE_CONTEXT, track=tracked)

    assert rendered.links == ("https://shop.example.com/", "https://shop.example.com/sale?a=1&b=2")
    assert rendered.text == (
        "Shop (https://t.example/0) or see https://shop.example.com/plain\n\n"
        "https://t.example/1\n\n"
        f"Again (https://t.example/0) help (help@example.com) Unsubscribe ({UNSUBSCRIBE})"
    )
    untracked = email.render(SAMPLE_CONTEXT).text
    assert "\x02" not in untracked and "\x03" not in untracked
    assert untracked.startswith("Shop (https://shop.example.com/) or see")


def test_an_email_carries_the_one_click_unsubscribe_headers():
    rendered = compile_template("email", subject="s", html="x").render(SAMPLE_CONTEXT)

    assert rendered.headers == {
        "List-Unsubscribe": f"<{UNSUBSCRIBE}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    assert list_unsubscribe_headers("https://x.example/u/1")["List-Unsubscribe"] == "<https://x.example/u/1>"
    with pytest.raises(ValueError):
        list_unsubscribe_headers("javascript:alert(1)")


def test_an_email_context_without_an_unsubscribe_link_is_a_programming_error():
    context = {**SAMPLE_CONTEXT, "links": {"shop": "https://shop.example.com/"}}

    with pytest.raises(ValueError, match="links.unsubscribe"):
        compile_template("email", subject="s", html="x").render(context)


def test_the_opt_out_text_is_appended_once_and_counted():
    sms = compile_template("sms", body="{{ offer.discount }} off: {{ offer.code }}", opt_out_text="Reply STOP to opt out")

    rendered = sms.render(SAMPLE_CONTEXT)

    assert rendered.body == "10% off: SAMPLE10\nReply STOP to opt out"
    assert rendered.length.units == len(rendered.body)


def test_a_body_that_carries_the_opt_out_text_gets_no_second_one():
    sms = compile_template("sms", body="Sale! reply stop to opt out", opt_out_text="Reply STOP to opt out")

    assert sms.render(SAMPLE_CONTEXT).body == "Sale! reply stop to opt out"


def test_sms_links_are_tracked_and_the_tracked_length_is_counted():
    sms = compile_template("sms", body="Shop: {{ links.shop }}", opt_out_text="")

    rendered = sms.render(SAMPLE_CONTEXT, track=tracked)

    assert rendered.body == "Shop: https://t.example/0"
    assert rendered.links == ("https://shop.example.com/",)
    assert rendered.length.units == 25


def test_an_sms_over_twilios_limit_fails_to_render():
    sms = compile_template("sms", body="{{ 'x' * 1590 }}")

    with pytest.raises(RenderError, match="1,612 characters long, over the 1,600"):
        sms.render(SAMPLE_CONTEXT)


def test_an_empty_sms_fails_to_render():
    sms = compile_template("sms", body="{{ customer.first_name }}")

    with pytest.raises(RenderError, match="empty"):
        sms.render(context_for(first_name=""))


def test_a_missing_offer_fails_the_message_instead_of_printing_an_empty_code():
    context = message_context(
        customer=CustomerData(first_name="Ada"),
        segment=SAMPLE_CONTEXT["segment"],
        links=SAMPLE_CONTEXT["links"],
        shop=SAMPLE_CONTEXT["shop"],
    )
    sms = compile_template("sms", body="Code {{ offer.code }}")

    with pytest.raises(RenderError) as caught:
        sms.render(context)

    assert (caught.value.kind, caught.value.message) == ("undefined", "unknown variable 'offer'")
    assert sms.names == {"offer"}


def test_compiling_reports_every_field_at_once():
    with pytest.raises(TemplateInvalid) as caught:
        compile_template("email", subject="{{ x", html="{% macro m() %}{% endmacro %}", text="{{ y|attr('z') }}")

    assert [p.field for p in caught.value.problems] == ["subject", "html", "text"]


def test_a_template_is_compiled_once_and_rendering_does_not_parse(monkeypatch):
    email = compile_template("email", subject="{{ customer.first_name }}", html="<p>{{ offer.code }}</p>")
    sms = compile_template("sms", body="{{ offer.code }}")

    def refuse(*args, **kwargs):
        raise AssertionError("parsed or compiled while rendering")

    for env in (HTML, TEXT):
        monkeypatch.setattr(env, "parse", refuse)
        monkeypatch.setattr(env, "compile", refuse)
    for _ in range(3):
        assert email.render(SAMPLE_CONTEXT).subject == "Ada"
        assert sms.render(SAMPLE_CONTEXT).body.startswith("SAMPLE10")
    assert isinstance(email, CompiledEmail) and isinstance(sms, CompiledSms)


def test_an_unknown_channel_is_refused():
    with pytest.raises(ValueError, match="unknown channel 'fax'"):
        compile_template("fax", body="x")
