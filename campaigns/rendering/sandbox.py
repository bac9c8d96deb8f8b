"""The sandbox marketer-written templates run in: Jinja's immutable sandbox, narrowed.

A message template is untrusted code. Jinja's ImmutableSandboxedEnvironment keeps it away
from Python internals (anything starting with "_") and from methods that modify data; on
top of that, this module

- offers only what a message needs: the `range` global (cycler, joiner, lipsum, namespace
  and dict are gone), an allow-list of filters, and a few methods of strings, dicts and lists
  (`str.format`/`format_map` are not among them: the `format` filter is);
- refuses, when a template is compiled, what a message has no use for and what would need
  limits of its own: macros, call blocks, blocks, extends/include/import, recursive loops,
  `{% set %}...{% endset %}`, `{% filter %}` blocks and `{% autoescape %}`, names starting
  with "_", unknown filters and tests;
- puts the guards of limits.py around every filter, call, operator, loop, concatenation and
  literal, and streams a render's output up to a cap.

Every failure of a render (limits, undefined variables, sandbox violations, anything the
template raises) reaches the caller as one RenderError naming the field and template line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError
from jinja2.filters import FILTERS
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing
from jinja2.visitor import NodeTransformer
from markupsafe import Markup

from . import limits
from .context import LABELS, SHAPES
from .errors import LimitExceeded, Problem, RenderError, TemplateInvalid

# Filters a message may use. Left out: attr (the classic way around the sandbox), safe and
# forceescape (customer data is always escaped in HTML), center/indent/wordwrap/batch/slice
# (pad or multiply their input), pprint/xmlattr/tojson/urlize/filesizeformat/random.
ALLOWED_FILTERS = (
    "abs", "capitalize", "count", "d", "default", "dictsort", "e", "escape", "first", "float",
    "format", "groupby", "int", "items", "join", "last", "length", "list", "lower", "map", "max",
    "min", "reject", "rejectattr", "replace", "reverse", "round", "select", "selectattr", "sort",
    "string", "striptags", "sum", "title", "trim", "truncate", "unique", "upper", "urlencode",
    "wordcount",
)  # fmt: skip

# Methods a template may call, by the exact type of the object.
_STR_METHODS = frozenset(
    "capitalize casefold count endswith find isalnum isalpha isdecimal isdigit islower isnumeric "
    "isspace istitle isupper lower lstrip partition removeprefix removesuffix rfind rpartition "
    "rsplit rstrip split splitlines startswith strip swapcase title upper".split()
)
_METHODS: dict[type, frozenset[str]] = {
    str: _STR_METHODS,
    Markup: _STR_METHODS,
    dict: frozenset({"get", "items", "keys", "values"}),
    list: frozenset({"count", "index"}),
    tuple: frozenset({"count", "index"}),
    int: frozenset(),
    float: frozenset(),
}

# Attribute reads the sandbox need not vet: the fields of the context's dataclasses, and
# dict keys that are not dict methods (`links.shop`, `customer.attributes.tier`). This fast
# path takes a render from ~25 sandbox checks to none.
_PLAIN_FIELDS: dict[type, frozenset[str]] = {cls: frozenset(SHAPES[label]) for cls, label in LABELS.items()}
_DICT_ATTRIBUTES = frozenset(dir(dict))

_FORBIDDEN: dict[type[nodes.Node], str] = {
    nodes.Macro: "macros are not available in message templates",
    nodes.CallBlock: "{% call %} blocks are not available in message templates",
    nodes.Block: "{% block %} is not available in message templates",
    nodes.Extends: "{% extends %} is not available: a message template stands alone",
    nodes.Include: "{% include %} is not available: a message template stands alone",
    nodes.Import: "{% import %} is not available: a message template stands alone",
    nodes.FromImport: "{% from ... import %} is not available: a message template stands alone",
    nodes.AssignBlock: "{% set %}...{% endset %} blocks are not available: write {% set name = ... %}",
    nodes.FilterBlock: "{% filter %} blocks are not available: apply the filter to each value",
    nodes.EvalContextModifier: "{% autoescape %} is not available: the HTML part is always escaped",
}

# Internal filters the compiler wraps around loops, concatenations and literals. Their names
# cannot be written as a filter in a template.
_LOOP = "\x00loop"
_CONCAT = "\x00concat"
_SIZE = "\x00size"


class _Undefined(StrictUndefined):
    """StrictUndefined, with messages that name fields rather than Python classes."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        if self._undefined_hint:
            return self._undefined_hint
        name, obj = self._undefined_name, self._undefined_obj
        if obj is missing:
            return f"unknown variable {name!r}"
        if isinstance(obj, Mapping):
            keys = ", ".join(sorted(map(str, obj))[:12]) or "none"
            return f"no {name!r} here (the keys are: {keys}); use |default(...) where it may be missing"
        return f"{LABELS.get(type(obj), type(obj).__name__)} has no {name!r}"


class _Guard(NodeTransformer):
    """Wraps the guards around loops, concatenations and literals of a parsed template."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _filter(node.iter, _LOOP)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _filter(nodes.Tuple(node.nodes, "load", lineno=node.lineno), _CONCAT)

    def visit_List(self, node: nodes.Node) -> nodes.Node:
        self.generic_visit(node)
        return _filter(node, _SIZE)

    visit_Dict = visit_List

    def visit_Tuple(self, node: nodes.Tuple) -> nodes.Node:
        self.generic_visit(node)
        return _filter(node, _SIZE) if node.ctx == "load" else node


def _filter(node: nodes.Expr, name: str) -> nodes.Filter:
    return nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)


class MessageEnvironment(ImmutableSandboxedEnvironment):
    """The environment of one kind of field: HTML (autoescaped) or plain text."""

    intercepted_binops = frozenset({"+", "*", "**", "%"})

    def __init__(self, *, html: bool, trim_blocks: bool = True):
        super().__init__(
            autoescape=html,
            undefined=_Undefined,
            trim_blocks=trim_blocks,
            lstrip_blocks=trim_blocks,
            cache_size=0,
            auto_reload=False,
        )
        self.globals.clear()
        self.globals["range"] = limits.safe_range
        filters = {name: FILTERS[name] for name in ALLOWED_FILTERS} | {
            "join": limits.join,
            "replace": limits.replace,
            "format": limits.format_filter,
        }
        self.filters = {name: limits.guarded(func) for name, func in filters.items()}
        self.filters.update({_LOOP: limits.loop_guard, _CONCAT: limits.concat, _SIZE: limits.checked})

    def getattr(self, obj: Any, attribute: str) -> Any:
        kind = type(obj)
        if kind is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        fields = _PLAIN_FIELDS.get(kind)
        if fields is not None and attribute in fields:
            return getattr(obj, attribute)
        return super().getattr(obj, attribute)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        allowed = _METHODS.get(type(obj))
        if allowed is not None and attr not in allowed:
            return False
        return super().is_safe_attribute(obj, attr, value)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        hint = " (use the format filter: '%.2f'|format(value))" if attribute in ("format", "format_map") else ""
        return self.undefined(
            f"{attribute!r} of {type(obj).__name__} is not available in message templates{hint}",
            name=attribute,
            obj=obj,
            exc=SecurityError,
        )

    def wrap_str_format(self, value: Any) -> None:
        # str.format and format_map are not on the allow-list at all; the `format` filter is.
        return None

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 (Jinja's signature)
        limits.tick()
        return limits.checked(super().call(__context, __obj, *args, **kwargs))

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        limits.tick()
        if operator == "*":
            limits.check_repeat(left, right)
        elif operator == "**":
            limits.check_power(left, right)
        elif operator == "%" and isinstance(left, str):
            limits.check_printf(left)
        return limits.checked(self.binop_table[operator](left, right))


HTML = MessageEnvironment(html=True)
TEXT = MessageEnvironment(html=False)
# For text parts generated from HTML, whose line breaks html_to_text has placed already.
GENERATED_TEXT = MessageEnvironment(html=False, trim_blocks=False)


_TOO_DEEP = "the template is nested too deeply: keep ifs and loops within about 15 levels"


def parse(env: MessageEnvironment, source: str, field: str) -> nodes.Template:
    """The parsed template, or TemplateInvalid for a syntax error or a construct or name the
    sandbox does not offer."""
    if len(source) > limits.MAX_SOURCE:
        raise TemplateInvalid([Problem(field, None, f"the template is longer than {limits.MAX_SOURCE:,} characters")])
    try:
        tree = env.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateInvalid([Problem(field, exc.lineno, exc.message or str(exc))]) from None
    except RecursionError:
        raise TemplateInvalid([Problem(field, None, _TOO_DEEP)]) from None
    problems = structure_problems(env, tree, field)
    if problems:
        raise TemplateInvalid(problems)
    return tree


def structure_problems(env: MessageEnvironment, tree: nodes.Template, field: str) -> list[Problem]:
    problems = []
    for node in tree.find_all(nodes.Node):
        message = next((text for kind, text in _FORBIDDEN.items() if isinstance(node, kind)), None)
        if message is None:
            message = _node_problem(env, node)
        if message is not None:
            problems.append(Problem(field, node.lineno, message))
    return problems


def _node_problem(env: MessageEnvironment, node: nodes.Node) -> str | None:
    if isinstance(node, nodes.For) and node.recursive:
        return "recursive loops are not available in message templates"
    if isinstance(node, nodes.Getattr):
        name = node.attr
    elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
        name = node.arg.value
    elif isinstance(node, nodes.Filter) and node.name not in env.filters:
        return f"there is no filter named {node.name!r} in message templates"
    elif isinstance(node, nodes.Test) and node.name not in env.tests:
        return f"there is no test named {node.name!r}"
    else:
        return None
    if name.startswith("_"):
        return f"{name!r} is not allowed: names starting with '_' reach into Python's internals"
    return None


class Compiled:
    """A compiled field: the Jinja template, and whether its output must be streamed and
    counted piece by piece. Without loops, a template writes at most its text plus one
    value (each within MAX_VALUE_SIZE) per {{ }}: with few of those the output is joined
    at once and measured after, which saves a Python step per piece."""

    __slots__ = ("template", "streamed")

    def __init__(self, template: Any, streamed: bool):
        self.template = template
        self.streamed = streamed


# Outputs of a loop-free template joined at once: at most this many values of MAX_VALUE_SIZE.
_JOINED_OUTPUTS = 100


def compile_tree(env: MessageEnvironment, tree: nodes.Template, field: str) -> Compiled:
    """A compiled field from a parsed tree, with the guards in place."""
    outputs = sum(
        not isinstance(child, nodes.TemplateData) for output in tree.find_all(nodes.Output) for child in output.nodes
    )
    streamed = outputs > _JOINED_OUTPUTS or any(True for _ in tree.find_all(nodes.For))
    tree = _Guard().visit(tree)
    tree.set_environment(env)
    filename = f"<{field}>"
    try:
        code = env.compile(tree, filename=filename)
    except TemplateSyntaxError as exc:
        raise TemplateInvalid([Problem(field, exc.lineno, exc.message or str(exc))]) from None
    except (SyntaxError, RecursionError):
        # Python allows 20 nested blocks in one function; Jinja makes one of each if and for.
        raise TemplateInvalid([Problem(field, None, _TOO_DEEP)]) from None
    # A plain dict of globals: Jinja copies them into every render's context, and copying a
    # dict is cheaper than the ChainMap make_globals() returns.
    return Compiled(env.template_class.from_code(env, code, dict(env.globals)), streamed)


def render(compiled: Compiled, context: Mapping[str, Any], field: str, max_chars: int) -> str:
    """Render one field of one message, its output capped at max_chars characters.
    Raises RenderError, whatever went wrong."""
    template = compiled.template
    token = limits.current.set(limits.Budget())
    # The render function itself rather than Template.generate(), which only adds a
    # generator hop per piece; handle_exception() gives errors their template lines.
    stream = template.root_render_func(template.new_context(context))
    try:
        try:
            if not compiled.streamed:
                output = "".join(stream)
                if len(output) > max_chars:
                    raise RenderError(field, None, f"the output is longer than {max_chars:,} characters", "too_large")
                return output
            parts: list[str] = []
            append = parts.append
            size = 0
            for piece in stream:
                size += len(piece)
                if size > max_chars:
                    line = template.get_corresponding_lineno(stream.gi_frame.f_lineno)
                    raise RenderError(field, line, f"the output is longer than {max_chars:,} characters", "too_large")
                append(piece)
            return "".join(parts)
        except RenderError:
            raise
        except Exception:
            template.environment.handle_exception()
    except RenderError:
        raise
    except LimitExceeded as exc:
        raise RenderError(field, _line(exc, template), str(exc), exc.kind) from None
    except UndefinedError as exc:
        raise RenderError(field, _line(exc, template), exc.message or str(exc), "undefined") from None
    except SecurityError as exc:
        raise RenderError(field, _line(exc, template), str(exc), "sandbox") from None
    except Exception as exc:  # anything a template can raise: it must never escape as a crash
        raise RenderError(field, _line(exc, template), str(exc) or type(exc).__name__, "error") from None
    finally:
        stream.close()
        limits.current.reset(token)


def _line(exc: BaseException, template: Any) -> int | None:
    """The template line an exception was raised on: Jinja rewrites the traceback so that
    frames of template code carry the template's file name and line."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == template.filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
