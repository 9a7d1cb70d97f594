"""Errors raised by the policy package.

They derive from :class:`aiconsole.domain.errors.ValidationError` because every one of them
means "this policy text (or this requested change to it) cannot be accepted": the CLI and
the TUI already know how to show that class, and no policy error ever needs a network retry.
"""

from __future__ import annotations

from aiconsole.domain.errors import ValidationError


class PolicyError(ValidationError):
    """Base of every error from :mod:`aiconsole.policy`."""


class PolicySyntaxError(PolicyError):
    """The document is malformed for APIM (unbalanced elements, an unterminated tag or comment,
    a DTD...).

    ``line`` and ``column`` are 1-based and point at the construct that is broken, so the
    message can be shown next to the text; ``offset`` is the same place as a ``str`` index.
    """

    def __init__(self, message: str, *, text: str, offset: int, hint: str = "") -> None:
        line, column = line_col(text, offset)
        super().__init__(f"Line {line}, column {column}: {message}", hint)
        self.reason = message
        self.line = line
        self.column = column
        self.offset = offset


class LimitNotFoundError(PolicyError):
    """The limit, override or section a caller named is not in the document."""


class StaleLimitError(PolicyError):
    """A :class:`~aiconsole.policy.limits.TokenLimit` was found in another version of the text.

    Spans are only meaningful for the exact text they were computed from; editing a newer
    text with an older limit would corrupt it, so we refuse instead.
    """


class LimitValidationError(PolicyError):
    """A value or an edit would leave a limit that APIM rejects; ``details`` lists each problem."""


def line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of ``offset`` in ``text`` (a CR before LF belongs to its line)."""
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column
