"""The sandbox: known escapes, resource limits, and what a template may still do."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

from campaigns.rendering import SAMPLE_CONTEXT, RenderError, TemplateInvalid, compile_template
from campaigns.rendering.limits import MAX_LOOP_ITERATIONS, MAX_VALUE_SIZE

ROOT = Path(__file__).resolve().parents[3]


def render_sms(body, context=SAMPLE_CONTEXT):
    return compile_template("sms", body=body, opt_out_text="").render(context).body


def render_error(body):
    with pytest.raises(RenderError) as caught:
        render_sms(body)
    return caught.value


def compile_error(body):
    with pytest.raises(TemplateInvalid) as caught:
        compile_template("sms", body=body)
    return caught.value


@pytest.mark.parametrize(
    "payload",
    [
        # CVE-2025-27516: |attr fetched str.format past the sandbox's format wrapper.
        "{{ '{0.__class__.__init__.__globals__}'|attr('format')(customer) }}",
        "{{ ''|attr('format') }}",
        "{{ ''|attr('__class__') }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ lipsum.__globals__['os'] }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ self.__init__.__globals__ }}",
        "{{ self._TemplateReference__context }}",
        "{{ customer['__class__'] }}",
        "{% macro m() %}{% endmacro %}{{ m.__globals__ }}",
        "{% include 'anything' %}",
        "{% autoescape false %}{{ customer.first_name }}{% endautoescape %}",
        "{% if false %}{{ x|attr('y') }}{% endif %}",
    ],
)
def test_it_refuses_known_escapes_when_compiling(payload):
    error = compile_error(payload)

    assert error.problems and all(p.field == "body" and p.line == 1 for p in error.problems)
    assert "globals" not in str(error).replace("__globals__", "")


@pytest.mark.parametrize(
    "payload",
    [
        # CVE-2024-56326 and friends: a str.format reached at run time, not by name.
        "{{ '{0.__class__}'.format_map({'0': customer}) }}",
        "{{ '{0.__class__}'.format(customer) }}",
        "{% set f = '{0.__init__.__globals__}'.format %}{{ f(customer) }}",
        "{{ ''['__cl' ~ 'ass__'] }}",
        "{{ customer[['__', 'class', '__']|join] }}",
        "{{ customer.attributes.pop('tier', 1) }}",
        "{{ customer.attributes.update({'x': 1}) }}",
        "{{ customer.first_name.encode() }}",
    ],
)
def test_it_stops_escapes_reached_at_run_time_with_a_sandbox_error(payload):
    error = render_error(payload)

    assert error.kind == "sandbox"
    assert error.line == 1
    assert "is not available in message templates" in error.message


@pytest.mark.parametrize(
    "payload, kind",
    [
        ("{{ 'x' * 10**9 }}", "too_large"),
        ("{{ 'x' * 1000000000 }}", "too_large"),
        ("{{ [1] * 10**9 }}", "too_large"),
        ("{{ range(10**9) }}", "too_large"),
        ("{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}", "too_slow"),
        ("{% for a in 'x' * 100000 %}{% for b in 'y' * 100000 %}{% endfor %}{% endfor %}", "too_slow"),
        ("{% for a in 'x' * 100000 %}{{ a }}{% endfor %}", "too_large"),  # the SMS output cap
        ("{{ range(1000)|map('string')|join('x' * 100000) }}", "too_large"),
        ("{{ 'ab'|replace('', 'x' * 99999) }}", "too_large"),
        ("{{ '%999999999s'|format(1) }}", "too_large"),
        ("{{ '%*s' % (999999999, 'x') }}", "too_large"),
        ("{{ 2 ** 10000000 }}", "too_large"),
        ("{% set a = 'x' * 60000 %}{{ a ~ a }}", "too_large"),
        ("{% set a = 'x' * 60000 %}{{ [a, a]|length }}", "too_large"),
        ("{% set a = 'x' * 60000 %}{{ a + a }}", "too_large"),
    ],
)
def test_runaway_templates_fail_fast_with_a_clear_limit(payload, kind):
    started = time.monotonic()

    error = render_error(payload)

    assert error.kind == kind
    assert error.line == 1
    assert time.monotonic() - started < 2


def test_loops_stop_after_the_iteration_limit():
    error = render_error("{% for i in range(1000) %}\n{% for j in range(1000) %}{% endfor %}{% endfor %}")

    assert error.message == f"loops ran more than {MAX_LOOP_ITERATIONS:,} times in one message"
    assert error.line == 2


def test_a_doubling_chain_stops_at_the_value_limit():
    body = "{% set a = 'x' * 1000 %}" + "".join(f"{{% set a = a ~ a %}}\n" for _ in range(60)) + "{{ a|length }}"

    error = render_error(body)

    assert error.kind == "too_large"
    assert error.line == 7  # 1000 * 2**7 passes 100,000 at the seventh doubling, on line 7


def test_the_output_of_a_render_is_capped():
    with pytest.raises(RenderError) as caught:
        compile_template("email", subject="s", html="{% for i in range(1000) %}{{ 'x' * 99999 }}{% endfor %}").render(
            SAMPLE_CONTEXT
        )

    assert caught.value.field == "html"
    assert caught.value.kind == "too_large"
    assert "1,000,000 characters" in caught.value.message


def test_the_output_of_a_loop_free_render_is_capped_too():
    with pytest.raises(RenderError) as caught:
        compile_template("email", subject="s", html="{% set a = 'x' * 99999 %}" + "{{ a }}" * 11).render(SAMPLE_CONTEXT)

    assert (caught.value.field, caught.value.kind) == ("html", "too_large")


def test_values_up_to_the_limit_are_fine():
    assert len(render_sms("{{ ('x' * 100000)|length }}")) == 6
    assert MAX_VALUE_SIZE == 100_000


@pytest.mark.parametrize(
    "construct",
    [
        "{% macro m() %}x{% endmacro %}",
        "{% call range(1) %}x{% endcall %}",
        "{% block b %}x{% endblock %}",
        "{% extends 'base' %}",
        "{% import 'x' as y %}",
        "{% from 'x' import y %}",
        "{% set a %}x{% endset %}",
        "{% filter upper %}x{% endfilter %}",
        "{% for x in [1] recursive %}{{ loop([]) }}{% endfor %}",
        "{{ x|safe }}",
        "{{ x|center(10) }}",
        "{{ x|indent(10) }}",
        "{{ x|wordwrap(10) }}",
        "{{ x is nosuchtest }}",
    ],
)
def test_it_refuses_constructs_a_message_has_no_use_for(construct):
    error = compile_error(construct)

    assert "not available" in str(error) or "there is no" in str(error)


@pytest.mark.parametrize("name", ["cycler", "joiner", "lipsum", "namespace", "dict"])
def test_globals_a_marketer_does_not_need_are_gone(name):
    error = render_error(f"{{{{ {name} }}}}")

    assert error.kind == "undefined"
    assert error.message == f"unknown variable {name!r}"


def test_deep_nesting_is_refused_not_crashed():
    assert "nested too deeply" in str(compile_error("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}"))
    assert "nested too deeply" in str(compile_error("{% for i in [1] %}" * 30 + "x" + "{% endfor %}" * 30))


def test_what_a_marketer_writes_still_works():
    body = (
        "{% set name = customer.first_name|default('there', true) %}"
        "Hi {{ name|title }}! {{ '%.2f'|format(customer.monetary) }} spent, "
        "{{ customer.frequency + 1 }}th order"
        "{% if customer.r_score >= 4 and segment.key == 'champions' %} (VIP){% endif %}. "
        "{{ offer.discount }} off with {{ offer.code|upper }}"
        "{% for part in ['a', 'b'] %}{{ loop.index }}{{ part }}{% endfor %} "
        "{{ customer.attributes.tier|default('no tier') }} "
        "{{ segment.profile.items()|list|length }} {{ [3, 1, 2]|sort|join(',') }} "
        "{{ customer.recency_days // 7 }} {{ 'a b'.split()|join('-') }} {{ range(3)|sum }}"
    )

    assert render_sms(body) == (
        "Hi Ada! 412.50 spent, 8th order (VIP). 10% off with SAMPLE10"
        "1a2b no tier 3 1,2,3 1 a-b 3"
    )


def test_an_undefined_field_fails_with_its_line():
    error = render_error("Hi\n{{ customer.first_name }}\n{{ customer.attributes.tier }}")

    assert (error.field, error.line, error.kind) == ("body", 3, "undefined")
    assert "'tier'" in error.message


def test_other_errors_a_template_raises_are_caught_as_render_errors():
    error = render_error("{{ 1 // 0 }}")

    assert (error.kind, error.line) == ("error", 1)
    assert "division" in error.message


def test_rendering_imports_nothing_from_django():
    code = "import sys, campaigns.rendering; assert not [m for m in sys.modules if m.startswith('django')], sys.modules"

    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)

    assert result.returncode == 0, result.stderr
