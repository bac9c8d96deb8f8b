"""What can go wrong with a message template, in words a marketer can act on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Level = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a template: which field, which line of it (None when the whole
    field is concerned) and what. Errors stop a template from being saved; warnings are
    shown (an SMS that costs twice as much because of one character, say)."""

    field: str
    line: int | None
    message: str
    level: Level = "error"

    def __str__(self) -> str:
        where = f"{self.field}, line {self.line}" if self.line else self.field
        return f"{where}: {self.message}"


class TemplateInvalid(ValueError):
    """A template that cannot be compiled; `problems` says why (errors only)."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(map(str, problems)))


# Why a render failed, for the caller that decides what to do with the message.
RenderFailure = Literal["undefined", "sandbox", "too_large", "too_slow", "error"]


class RenderError(Exception):
    """Rendering one message failed. `kind` says how: an undefined variable, a sandbox
    violation, an output or value over its limit, a render over its time limit, or any other
    error the template raised (a division by zero, a bad filter argument)."""

    def __init__(self, field: str, line: int | None, message: str, kind: RenderFailure = "error"):
        self.field = field
        self.line = line
        self.message = message
        self.kind = kind
        super().__init__(str(self.problem))

    @property
    def problem(self) -> Problem:
        return Problem(self.field, self.line, self.message)


class LimitExceeded(Exception):
    """Raised inside a render when a template asks for more memory or time than a message
    may use; turned into a RenderError with the field and line by the caller."""

    def __init__(self, message: str, kind: RenderFailure = "too_large"):
        self.kind = kind
        super().__init__(message)
