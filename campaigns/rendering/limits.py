"""The limits a message template runs within: memory per value, loop iterations and time.

No value a template computes may hold more than MAX_VALUE_SIZE characters (containers count
the characters of their items). Operations that multiply their input (`*`, `**`, `join`,
`replace`, printf widths) are checked before they run; everything else (filters, method
calls, `+`, `~`, literals) right after, so a step can overshoot the limit by a small factor
at most before it fails. A render may run MAX_LOOP_ITERATIONS for-loop iterations and
MAX_SECONDS; the deadline is checked at every loop iteration, filter, call and operator.

Each render installs a Budget in a context variable; the guards read it from there. Every
limit raises LimitExceeded.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import Any

from jinja2 import pass_context, pass_eval_context
from jinja2.filters import do_format, do_replace, sync_do_join
from jinja2.runtime import markup_join, str_join
from markupsafe import Markup

from .errors import LimitExceeded

MAX_SOURCE = 200_000  # characters of template source
MAX_VALUE_SIZE = 100_000  # characters one computed value may hold
MAX_LOOP_ITERATIONS = 10_000  # per render of one field
MAX_RANGE = 1_000  # items one range() may produce
MAX_SECONDS = 1.0  # per render of one field; a normal message takes well under a millisecond
MAX_FORMAT_WIDTH = 100  # largest width or precision in a printf-style format

_PRINTF_SPEC = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(\*|\d+)?(?:\.(\*|\d*))?[hlL]?[a-zA-Z%]")


class Budget:
    """The time and loop iterations left to one render."""

    __slots__ = ("iterations", "deadline")

    def __init__(self) -> None:
        self.iterations = 0
        self.deadline = time.monotonic() + MAX_SECONDS

    def iterate(self, iterable: Iterable[Any]) -> Iterator[Any]:
        for item in iterable:
            self.iterations += 1
            if self.iterations > MAX_LOOP_ITERATIONS:
                raise LimitExceeded(f"loops ran more than {MAX_LOOP_ITERATIONS:,} times in one message", "too_slow")
            if time.monotonic() > self.deadline:
                raise _too_slow()
            yield item


current: ContextVar[Budget | None] = ContextVar("campaigns_render_budget", default=None)


def _too_slow() -> LimitExceeded:
    return LimitExceeded(f"the template took longer than {MAX_SECONDS:g} s to render one message", "too_slow")


def tick() -> None:
    budget = current.get()
    if budget is not None and time.monotonic() > budget.deadline:
        raise _too_slow()


def measure(value: Any, limit: int = MAX_VALUE_SIZE) -> int:
    """How many characters a value holds: strings by length, containers by their items
    (an item held twice counts twice, as it would when written out), integers by bytes.
    Stops counting, and returns a number over `limit`, as soon as it passes the limit."""
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str or kind is Markup:
            total += len(item)
        elif kind is list or kind is tuple:
            total += len(item)
            stack.extend(item)
        elif kind is dict:
            total += len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif kind is int:
            total += item.bit_length() >> 3
        elif isinstance(item, str):
            total += len(item)
        else:
            total += 1
        if total > limit:
            return total
    return total


def _too_large(what: str = "a value") -> LimitExceeded:
    return LimitExceeded(f"{what} would be longer than {MAX_VALUE_SIZE:,} characters")


def checked(value: Any) -> Any:
    """The value, if it is within MAX_VALUE_SIZE."""
    if type(value) is str or type(value) is Markup:
        if len(value) > MAX_VALUE_SIZE:
            raise _too_large()
    elif measure(value) > MAX_VALUE_SIZE:
        raise _too_large()
    return value


def guarded(func: Any) -> Any:
    """A filter that respects the deadline and never returns an oversized value.
    (functools.wraps keeps Jinja's pass_context/pass_eval_context marks.)"""

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        tick()
        return checked(func(*args, **kwargs))

    return guarded


def check_printf(template: str) -> None:
    if template in _FORMATS_CHECKED:
        return
    for width, precision in _PRINTF_SPEC.findall(template):
        for number in (width, precision):
            if number == "*" or len(number) > 3 or (number and int(number) > MAX_FORMAT_WIDTH):
                raise LimitExceeded(f"format widths and precisions may be at most {MAX_FORMAT_WIDTH}")
    if len(_FORMATS_CHECKED) < 1_000:  # format strings are mostly a template's constants
        _FORMATS_CHECKED.add(template)


_FORMATS_CHECKED: set[str] = set()


@pass_eval_context
def join(eval_ctx: Any, value: Iterable[Any], d: str = "", attribute: str | int | None = None) -> str:
    items = value if isinstance(value, (list, tuple, str)) else list(value)
    separators = max(len(items) - 1, 0) * len(str(d))
    if separators > MAX_VALUE_SIZE or measure(items) + separators > MAX_VALUE_SIZE:
        raise _too_large("the joined text")
    return sync_do_join(eval_ctx, items, d, attribute)


@pass_eval_context
def replace(eval_ctx: Any, s: str, old: str, new: str, count: int | None = None) -> str:
    text, old_text, new_text = str(s), str(old), str(new)
    occurrences = text.count(old_text) if old_text else len(text) + 1
    if count is not None and 0 <= count < occurrences:
        occurrences = count
    if len(text) + occurrences * (len(new_text) - len(old_text)) > MAX_VALUE_SIZE:
        raise _too_large("the replaced text")
    return do_replace(eval_ctx, s, old, new, count)


def format_filter(value: str, *args: Any, **kwargs: Any) -> str:
    check_printf(str(value))
    return do_format(value, *args, **kwargs)


def safe_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise LimitExceeded(f"range() may produce at most {MAX_RANGE:,} numbers in a message template")
    return numbers


@pass_context  # a context filter is never run at compile time, so constant loops are guarded too
def loop_guard(context: Any, iterable: Iterable[Any]) -> Iterable[Any]:
    budget = current.get()
    return iterable if budget is None else budget.iterate(iterable)


@pass_eval_context
def concat(eval_ctx: Any, items: tuple[Any, ...]) -> str:
    total = 0
    for item in items:
        total += measure(item)
        if total > MAX_VALUE_SIZE:
            raise _too_large("the joined text")
    return markup_join(items) if eval_ctx.autoescape else str_join(items)


def check_repeat(left: Any, right: Any) -> None:
    for sequence, times in ((left, right), (right, left)):
        if isinstance(times, int) and isinstance(sequence, (str, list, tuple)) and times > 0:
            if measure(sequence) * times > MAX_VALUE_SIZE:
                raise _too_large()


def check_power(base: Any, exponent: Any) -> None:
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        if base.bit_length() * exponent > 8 * MAX_VALUE_SIZE:
            raise _too_large("the number")
