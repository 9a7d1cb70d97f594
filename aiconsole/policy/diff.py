"""A unified diff of a policy before and after an edit, fit for a terminal.

Lines are compared with their line endings, so a change of ending is a change; but they are
shown without them, so a CRLF document does not print stray carriage returns. A line whose
ending differs from the document's usual one is marked (``⏎LF`` / ``⏎CRLF``) so such a change
is visible, and a missing final newline is said the way ``diff`` says it.
"""

from __future__ import annotations

import difflib

from aiconsole.policy.layout import line_ending

__all__ = ["unified_diff", "NO_NEWLINE"]

NO_NEWLINE = "\\ No newline at end of file"


def _split(text: str) -> list[str]:
    return text.splitlines(keepends=True) if text else []


def _ending(line: str) -> str:
    if line.endswith("\r\n"):
        return "\r\n"
    if line.endswith("\n"):
        return "\n"
    if line.endswith("\r"):
        return "\r"
    return ""


def _show(line: str, usual: str) -> list[str]:
    """One diff line without its ending, marked when the ending is unusual."""
    end = _ending(line)
    body = line[: len(line) - len(end)]
    if end == "":
        return [body, NO_NEWLINE]
    if end != usual:
        return [body + {"\r\n": " ⏎CRLF", "\n": " ⏎LF", "\r": " ⏎CR"}[end]]
    return [body]


def unified_diff(before: str, after: str, *, label: str = "policy", context: int = 3) -> str:
    """``before`` → ``after`` as a unified diff labelled ``a/<label>`` and ``b/<label>``.

    Returns an empty string when the texts are equal. The result uses ``\\n`` between lines
    whatever the documents use (it is for people, not for ``patch``).
    """
    if before == after:
        return ""
    usual = line_ending(before or after)
    out: list[str] = []
    for row in difflib.unified_diff(_split(before), _split(after), f"a/{label}", f"b/{label}", n=context):
        if row.startswith(("---", "+++", "@@")):
            out.append(row.rstrip("\r\n"))
            continue
        marker, line = row[0], row[1:]
        shown = _show(line, usual)
        out.append(marker + shown[0])
        out.extend(shown[1:])
    return "\n".join(out) + "\n"
