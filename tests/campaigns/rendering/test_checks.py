"""check_template: what is wrong with a template when it is saved, by field and line."""

import dataclasses

from campaigns.rendering import SAMPLE_CONTEXT, Problem, check_template


def errors(problems):
    return [p for p in problems if p.level == "error"]


def test_a_good_template_has_no_problems():
    problems = check_template(
        "email",
        subject="{{ customer.first_name }}, {{ offer.discount }} off",
        html='<p>Hi {{ customer.first_name }}</p><p><a href="{{ links.unsubscribe }}">Unsubscribe</a></p>',
    )

    assert problems == []


def test_a_syntax_error_is_reported_with_its_line():
    problems = check_template("sms", body="Hi\n{{ customer.first_name }\n")

    assert problems == [Problem("body", 2, "unexpected '}'")]


def test_unknown_variables_and_fields_are_found_in_branches_the_sample_does_not_take():
    problems = check_template(
        "email",
        subject="Hi {{ customer.frist_name }}",
        html="<p>\n{% if customer.frequency > 1000 %}{{ custmer.first_name }}{% endif %}\n{{ offer.cod }}</p>{{ links.unsubscribe }}",
    )

    assert [(p.field, p.line, p.level) for p in problems] == [
        ("subject", 1, "error"),
        ("html", 2, "error"),
        ("html", 3, "error"),
    ]
    assert "customer has no field 'frist_name' (did you mean 'first_name'?)" in problems[0].message
    assert "unknown variable 'custmer' (did you mean 'customer'?)" in problems[1].message
    assert "offer has no field 'cod' (did you mean 'code'?)" in problems[2].message


def test_a_missing_key_is_found_by_rendering_the_sample():
    problems = check_template("sms", body="Hi\n{{ customer.attributes.tier }}")

    assert [(p.field, p.line, p.level) for p in problems] == [("body", 2, "error")]
    assert "no 'tier' here" in problems[0].message


def test_a_real_customer_context_can_be_checked_instead_of_the_sample():
    customer = dataclasses.replace(SAMPLE_CONTEXT["customer"], attributes={"tier": "gold"})

    assert check_template("sms", body="{{ customer.attributes.tier }}", context={**SAMPLE_CONTEXT, "customer": customer}) == []


def test_sandbox_violations_are_problems_not_crashes():
    problems = check_template("sms", body="{{ ''.__class__ }}\n{{ 'a'.format_map({}) }}")

    assert [(p.line, p.level) for p in problems] == [(1, "error")]
    assert "'__class__' is not allowed" in problems[0].message
    problems = check_template("sms", body="ok\n{{ 'a'.format_map({}) }}")
    assert [(p.line, p.level) for p in problems] == [(2, "error")]
    assert "not available in message templates" in problems[0].message


def test_an_sms_in_ucs2_is_a_warning_that_names_the_character_and_its_line():
    problems = check_template("sms", body="Hi {{ customer.first_name }},\nit\u2019s {{ offer.discount }} off")

    assert errors(problems) == []
    assert [(p.line, p.level) for p in problems] == [(2, "warning")]
    assert "'’' (U+2019 RIGHT SINGLE QUOTATION MARK) at character 11" in problems[0].message
    assert "UCS-2" in problems[0].message


def test_a_non_gsm_character_from_the_data_is_blamed_on_the_data():
    customer = dataclasses.replace(SAMPLE_CONTEXT["customer"], first_name="Zo\u00eb")

    problems = check_template("sms", body="Hi {{ customer.first_name }}", context={**SAMPLE_CONTEXT, "customer": customer})

    assert problems[0].line is None
    assert "comes from the data" in problems[0].message


def test_a_long_sms_warns_about_its_parts_opt_out_text_included():
    problems = check_template("sms", body="x" * 150, opt_out_text="Reply STOP to opt out")

    assert [p.level for p in problems] == ["warning"]
    assert "172 GSM-7 characters, 2 SMS parts, opt-out text included" in problems[0].message


def test_an_sms_over_1600_characters_is_an_error():
    problems = check_template("sms", body="{{ 'x' * 1700 }}")

    assert errors(problems) and "1,600" in problems[0].message


def test_an_email_without_an_unsubscribe_link_gets_a_warning():
    problems = check_template("email", subject="s", html="<p>Hi</p>")

    assert [(p.field, p.level) for p in problems] == [("html", "warning")]
    assert "{{ links.unsubscribe }}" in problems[0].message


def test_an_email_needs_a_subject_and_a_body():
    problems = check_template("email", subject=" ", html="", text="")

    assert [(p.field, p.level) for p in problems] == [("subject", "error"), ("html", "error")]
