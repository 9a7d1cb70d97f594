"""The shape of an aiconsole override block, and the condition grammar it uses.

An override is written so that the gateway reverts it by itself (DESIGN.md §4)::

    <choose>
        <when condition="@(context.Subscription.Id == "sid" && DateTime.UtcNow < new DateTime(2026, 11, 24, 14, 0, 0, DateTimeKind.Utc))">
            <!-- aiconsole-override id=ov-1a2b3c4d expires=2026-11-24T14:00:00Z author=alice reason=incident 4711 -->
            <llm-token-limit ... tokens-per-minute="20000" ... />
        </when>
        <otherwise>
            <llm-token-limit ... tokens-per-minute="5000" ... />
        </otherwise>
    </choose>

(the condition is XML-escaped in the ``xml`` form: ``&quot;``, ``&amp;&amp;``, ``&lt;``).

A ``<choose>`` is recognised as ours only when every part matches: only ``<when>`` elements
followed by one ``<otherwise>``; each ``<when>`` holds a marker comment, a condition in the
grammar below and exactly one limit element; the ``<otherwise>`` holds exactly one limit of
the same policy. Anything else is a person's ``<choose>`` and is left alone.

The grammar is also what the sandbox gateway evaluates, so :func:`parse_condition` is
public: it turns the C# text back into (kind, id, instant) without evaluating any C#.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal

from aiconsole.policy.scanner import Comment
from aiconsole.policy.tree import Document, Element
from aiconsole.policy.xmltext import unescape

SubjectKind = Literal["subscription", "product"]

__all__ = [
    "MARKER_TAG",
    "SubjectKind",
    "OverrideCondition",
    "OverrideWhen",
    "OverrideBlock",
    "build_condition",
    "parse_condition",
    "format_marker",
    "parse_marker",
    "sanitize_reason",
    "sanitize_token",
    "format_instant",
    "find_override_blocks",
    "check_subject",
    "utc",
]

MARKER_TAG = "aiconsole-override"
LIMIT_POLICIES = ("llm-token-limit", "azure-openai-token-limit", "rate-limit-by-key", "quota-by-key", "rate-limit", "quota")

_CONTEXT = {"subscription": "Subscription", "product": "Product"}
_KIND = {v: k for k, v in _CONTEXT.items()}

_CONDITION_RE = re.compile(
    r'@\(context\.(?P<kind>Subscription|Product)\.Id == "(?P<subject>[^"\\\r\n]+)"'
    r" && DateTime\.UtcNow < new DateTime\("
    r"(?P<y>\d{4}), (?P<mo>\d{1,2}), (?P<d>\d{1,2}), (?P<h>\d{1,2}), (?P<mi>\d{1,2}), (?P<s>\d{1,2}), "
    r"DateTimeKind\.Utc\)\)"
)
_MARKER_RE = re.compile(
    r"\s*aiconsole-override\s+id=(?P<id>\S+)\s+expires=(?P<expires>\S+)"
    r"(?:\s+author=(?P<author>\S*))?(?:\s+reason=(?P<reason>.*?))?\s*",
    re.S,
)
_SUBJECT_RE = re.compile(r"[^\s\"'\\<>&\x00-\x1f\x7f]{1,256}")


@dataclass(frozen=True)
class OverrideCondition:
    """A parsed condition: who it raises the limit for, and until when (UTC)."""

    kind: SubjectKind
    subject: str
    until: datetime

    def matches(self, *, subscription_id: str | None, product_id: str | None, now: datetime) -> bool:
        """What the gateway computes for one request (used by the sandbox)."""
        who = subscription_id if self.kind == "subscription" else product_id
        return who == self.subject and utc(now) < self.until


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive datetime is refused (ValueError) rather than guessed."""
    if moment.tzinfo is None:
        raise ValueError("a naive datetime is ambiguous here: pass an aware UTC datetime")
    return moment.astimezone(timezone.utc)


def format_instant(moment: datetime) -> str:
    """``2026-11-24T14:00:00Z``: the marker's expiry, whole seconds, UTC."""
    return utc(moment).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_subject(subject: str, kind: SubjectKind) -> str:
    """Refuse an id that could break out of the C# string or the XML attribute."""
    if not isinstance(subject, str) or not _SUBJECT_RE.fullmatch(subject):
        from aiconsole.policy.errors import LimitValidationError

        raise LimitValidationError(
            f"'{subject}' is not a usable {kind} id: it must be 1 to 256 characters without spaces, quotes, "
            "backslashes, '<', '>', '&' or control characters."
        )
    return subject


def build_condition(kind: SubjectKind, subject: str, until: datetime) -> str:
    """The C# condition (unescaped) that is true for ``subject`` until ``until`` (UTC, whole seconds)."""
    check_subject(subject, kind)
    u = utc(until)
    return (
        f'@(context.{_CONTEXT[kind]}.Id == "{subject}" && DateTime.UtcNow < '
        f"new DateTime({u.year}, {u.month}, {u.day}, {u.hour}, {u.minute}, {u.second}, DateTimeKind.Utc))"
    )


def parse_condition(condition: str) -> OverrideCondition | None:
    """Parse a condition written by :func:`build_condition` (either form); None if it is not one.

    Entity references are decoded first, so the attribute's raw text from either form works.
    """
    m = _CONDITION_RE.fullmatch(unescape(condition).strip())
    if not m:
        return None
    try:
        until = datetime(
            int(m["y"]), int(m["mo"]), int(m["d"]), int(m["h"]), int(m["mi"]), int(m["s"]), tzinfo=timezone.utc
        )
    except ValueError:
        return None
    return OverrideCondition(kind=_KIND[m["kind"]], subject=m["subject"], until=until)


def _clean(text: str) -> str:
    """No control characters (terminal escapes, line breaks) and no ``--`` (ends a comment)."""
    out = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in text)
    while "--" in out:
        out = out.replace("--", "-")
    return " ".join(out.split())


def sanitize_reason(reason: str, limit: int = 200) -> str:
    """A reason that fits in an XML comment on one line and is safe to print."""
    out = _clean(reason or "")[:limit].strip()
    return out.rstrip("-").strip()


def sanitize_token(value: str, fallback: str = "unknown", limit: int = 64) -> str:
    """A single word for the marker (author, id): spaces become ``_``."""
    out = _clean(value or "").replace(" ", "_")[:limit].strip("-")
    return out or fallback


def format_marker(override_id: str, until: datetime, author: str, reason: str) -> str:
    """The marker comment, delimiters included."""
    return (
        f"<!-- {MARKER_TAG} id={sanitize_token(override_id)} expires={format_instant(until)} "
        f"author={sanitize_token(author)} reason={sanitize_reason(reason)} -->"
    )


def parse_marker(body: str) -> dict[str, str] | None:
    """The fields of a marker comment's body (between ``<!--`` and ``-->``); None if not a marker."""
    m = _MARKER_RE.fullmatch(body)
    if not m:
        return None
    # the comment may have been written by hand: clean it like anything read from a server
    return {
        "id": m["id"],
        "expires": m["expires"],
        "author": _clean(m["author"] or ""),
        "reason": _clean(m["reason"] or ""),
    }


@dataclass(eq=False)
class OverrideWhen:
    """One ``<when>`` of an override block."""

    when: Element
    marker: Comment
    limit: Element
    id: str
    condition: OverrideCondition
    author: str
    reason: str
    marker_expires: str


@dataclass(eq=False)
class OverrideBlock:
    """A recognised override ``<choose>``: its whens and the base limit in ``<otherwise>``."""

    choose: Element
    whens: list[OverrideWhen]
    otherwise: Element
    base: Element


def _only_limit(el: Element, policy: str | None = None) -> Element | None:
    kids = el.children
    if len(kids) != 1 or kids[0].name not in LIMIT_POLICIES:
        return None
    if policy is not None and kids[0].name != policy:
        return None
    return kids[0]


def _recognise(choose: Element) -> OverrideBlock | None:
    kids = choose.children
    if len(kids) < 2 or kids[-1].name != "otherwise" or any(k.name != "when" for k in kids[:-1]):
        return None
    otherwise = kids[-1]
    base = _only_limit(otherwise)
    if base is None:
        return None
    whens: list[OverrideWhen] = []
    for when in kids[:-1]:
        limit = _only_limit(when, base.name)
        cond_attr = when.attribute("condition")
        cond = parse_condition(cond_attr.raw) if cond_attr is not None else None
        marker = fields = None
        for comment in when.comments:
            fields = parse_marker(comment.body)
            if fields is not None:
                marker = comment
                break
        if limit is None or cond is None or marker is None or fields is None:
            return None
        whens.append(
            OverrideWhen(
                when=when,
                marker=marker,
                limit=limit,
                id=fields["id"],
                condition=cond,
                author=fields["author"],
                reason=fields["reason"],
                marker_expires=fields["expires"],
            )
        )
    return OverrideBlock(choose=choose, whens=whens, otherwise=otherwise, base=base)


def find_override_blocks(doc: Document) -> list[OverrideBlock]:
    """Every aiconsole override block in ``doc``, in document order."""
    blocks: list[OverrideBlock] = []
    for el in doc.iter():
        if el.name == "choose":
            block = _recognise(el)
            if block is not None:
                blocks.append(block)
    return blocks
