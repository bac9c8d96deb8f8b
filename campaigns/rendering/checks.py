"""Checks run when a template is saved: everything wrong with it, with field and line.

check_template reports syntax errors, constructs the sandbox does not offer, unknown
variables, unknown fields (`customer.frist_name`, found from the template itself, so in
branches the sample does not take too), then renders the template against a context (the
SAMPLE context unless a real customer's is given) to find what only a render shows: a
missing dict key, a sandbox violation, a limit, an SMS's length and encoding.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from jinja2 import meta, nodes
from jinja2.exceptions import TemplateError

from .context import CONTEXT_NAMES, SAMPLE_CONTEXT, SHAPES
from .errors import Problem, RenderError, TemplateInvalid
from .sandbox import HTML, TEXT, MessageEnvironment, parse
from .sms import sms_length, ucs2_warning
from .templates import DEFAULT_OPT_OUT_TEXT, CompiledTemplate, compile_template


def check_template(
    channel: str,
    *,
    subject: str = "",
    html: str = "",
    text: str = "",
    body: str = "",
    context: Mapping[str, Any] | None = None,
    opt_out_text: str = DEFAULT_OPT_OUT_TEXT,
) -> list[Problem]:
    """Every problem of an email (subject, html, text) or SMS (body) template: errors, which
    stop it from being saved, then warnings."""
    if channel == "email":
        sources = {"subject": subject, "html": html, "text": text}
    elif channel == "sms":
        sources = {"body": body}
    else:
        raise ValueError(f"unknown channel {channel!r}")
    problems = _required_problems(channel, sources)
    trees = {}
    for field, source in sources.items():
        env = HTML if field == "html" else TEXT
        try:
            trees[field] = tree = parse(env, source, field)
        except TemplateInvalid as exc:
            problems.extend(exc.problems)
            continue
        problems.extend(_name_problems(env, tree, field))
    if any(p.level == "error" for p in problems):
        return problems

    try:
        compiled = compile_template(channel, **sources, opt_out_text=opt_out_text)
    except TemplateInvalid as exc:
        return problems + exc.problems
    problems.extend(_render_problems(compiled, SAMPLE_CONTEXT if context is None else context, sources, problems))
    if channel == "email" and not any(_uses_unsubscribe(tree) for tree in trees.values()):
        problems.append(
            Problem(
                "html" if html.strip() else "text",
                None,
                "there is no unsubscribe link: add one to {{ links.unsubscribe }} (the List-Unsubscribe "
                "header alone is not shown by every mail client)",
                "warning",
            )
        )
    return problems


def _required_problems(channel: str, sources: dict[str, str]) -> list[Problem]:
    if channel == "sms":
        return [] if sources["body"].strip() else [Problem("body", None, "the SMS has no text")]
    problems = []
    if not sources["subject"].strip():
        problems.append(Problem("subject", None, "the email has no subject"))
    if not sources["html"].strip() and not sources["text"].strip():
        problems.append(Problem("html", None, "the email has neither an HTML nor a text part"))
    return problems


def _name_problems(env: MessageEnvironment, tree: nodes.Template, field: str) -> list[Problem]:
    """Unknown variables, and unknown fields of the fixed-shape context objects."""
    known = set(CONTEXT_NAMES) | set(env.globals)
    try:
        unknown = meta.find_undeclared_variables(tree) - known
    except TemplateError as exc:  # the compiler's own checks (assigning to `loop`, ...)
        return [Problem(field, getattr(exc, "lineno", None), str(exc))]
    problems = []
    reported = set()
    for name in tree.find_all(nodes.Name):
        if name.ctx == "load" and name.name in unknown and name.name not in reported:
            reported.add(name.name)
            suggestion = _suggest(name.name, known)
            message = f"unknown variable {name.name!r}{suggestion}; a template can use {', '.join(CONTEXT_NAMES)}"
            problems.append(Problem(field, name.lineno, message))

    reassigned = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        owner = node.node
        if not isinstance(owner, nodes.Name) or owner.name not in SHAPES or owner.name in reassigned:
            continue
        attr = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
        if isinstance(attr, str) and attr not in SHAPES[owner.name]:
            fields = SHAPES[owner.name]
            message = f"{owner.name} has no field {attr!r}{_suggest(attr, fields)}; its fields are: {', '.join(fields)}"
            problems.append(Problem(field, node.lineno, message))
    return problems


def _suggest(name: str, candidates: Any) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _render_problems(
    compiled: CompiledTemplate, context: Mapping[str, Any], sources: dict[str, str], known: list[Problem]
) -> list[Problem]:
    try:
        rendered = compiled.render(context)
    except RenderError as exc:
        if any(p.field == exc.field and p.line == exc.line for p in known):
            return []  # already reported from the template itself, in better words
        return [exc.problem]
    if compiled.channel != "sms":
        return []
    length = sms_length(rendered.body)
    problems = []
    warning = ucs2_warning(length)
    if warning is not None:
        ch = length.first_ucs2[0]
        source = sources["body"]
        line = source.count("\n", 0, source.index(ch)) + 1 if ch in source else None
        where = "" if line else " (it comes from the data the template was checked with)"
        problems.append(Problem("body", line, warning + where, "warning"))
    if length.segments > 1:
        message = f"the SMS is {length}, opt-out text included: each recipient costs {length.segments} messages"
        problems.append(Problem("body", None, message, "warning"))
    return problems


def _uses_unsubscribe(tree: nodes.Template) -> bool:
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        owner = node.node
        attr = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
        if isinstance(owner, nodes.Name) and owner.name == "links" and attr == "unsubscribe":
            return True
    return False
