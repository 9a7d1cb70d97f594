"""Usage for cross-charging: tokens, requests and refusals per subscription, product or owner.

Reads totals for a window from ``telemetry.usage_window`` and joins them with the subscription
directory (product and owner come from each subscription's scope and ``ownerId`` when the
metric did not carry them). Prices are per 1,000 tokens per product, prompt and completion
apart (profile ``prices``, or ``--price PRODUCT=USD`` on the command line); a product without a
price has no cost, never a made-up one.
"""

from __future__ import annotations

import csv
import io
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiconsole.domain.errors import NotFoundError, UsageError
from aiconsole.domain.models import ScopeKind, Subscription
from aiconsole.domain.text import sanitize
from aiconsole.services.durations import parse_date

BY_CHOICES = ("subscription", "product", "owner")
LOOKUP_ONE_BY_ONE = 60  # fewer distinct subscriptions than this: read each; more: page the whole list
CSV_FIELDS = ["key", "display_name", "subscriptions", "product", "owner", "prompt_tokens", "completion_tokens", "total_tokens",
              "requests", "refused", "cost"]


@dataclass(frozen=True)
class Price:
    prompt: float
    completion: float

    def cost(self, prompt_tokens: float, completion_tokens: float) -> float:
        return prompt_tokens / 1000 * self.prompt + completion_tokens / 1000 * self.completion


def parse_price(text: str) -> tuple[str, Price]:
    """``PRODUCT=0.5`` (both kinds) or ``PRODUCT=0.25/1.0`` (prompt/completion), per 1,000 tokens."""
    product, sep, amount = text.partition("=")
    try:
        parts = [float(x) for x in amount.split("/")] if sep else []
    except ValueError:
        parts = []
    if not product.strip() or len(parts) not in (1, 2) or any(p < 0 for p in parts):
        raise UsageError(f"'{text}' is not a price.", "Write PRODUCT=USD_PER_1K or PRODUCT=PROMPT/COMPLETION.")
    return product.strip(), Price(parts[0], parts[-1])


def prices_from_profile(extra: dict[str, Any] | None) -> dict[str, Price]:
    out = {}
    for product, p in ((extra or {}).get("prices") or {}).items():
        out[product] = Price(float(p.get("prompt") or 0), float(p.get("completion") or 0))
    return out


def parse_when(text: str, *, end_of_day: bool = False) -> datetime:
    """``2026-11-01`` (UTC midnight; the next midnight for ``--to``) or an ISO-8601 instant with a zone.

    Parsed by ``durations.parse_date`` like every other date on the command line; a time without
    a zone is refused here because a usage window read in the wrong zone is silently wrong.
    """
    raw = text.strip()
    value = parse_date(raw)
    if "T" in raw.upper() and not _ZONE.search(raw):
        raise UsageError(f"'{text}' has no time zone.", "Add Z for UTC.")
    if end_of_day and _DATE_ONLY.fullmatch(raw):
        try:
            return value + timedelta(days=1)
        except OverflowError:
            raise UsageError(f"'{text}' is too far in the future.", "Use a date before 9999-12-31.") from None
    return value


_ZONE = re.compile(r"(?:[Zz]|[+-]\d{2}:?\d{2})$")
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass
class UsageRow:
    key: str
    display_name: str = ""  # the subscription's display name, when grouped by subscription
    subscriptions: set[str] = field(default_factory=set)
    products: set[str] = field(default_factory=set)
    owners: set[str] = field(default_factory=set)
    prompt_tokens: float = 0.0
    completion_tokens: float = 0.0
    total_tokens: float = 0.0
    requests: float = 0.0
    refused: float | None = None
    cost: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key, "display_name": sanitize(self.display_name) or None,
            "subscriptions": sorted(self.subscriptions), "product": ", ".join(sorted(self.products)),
            "owner": ", ".join(sorted(self.owners)), "prompt_tokens": int(self.prompt_tokens),
            "completion_tokens": int(self.completion_tokens), "total_tokens": int(self.total_tokens),
            "requests": int(self.requests), "refused": None if self.refused is None else int(self.refused),
            "cost": None if self.cost is None else round(self.cost, 4),
        }


@dataclass
class UsageReport:
    by: str
    start: datetime
    end: datetime
    rows: list[UsageRow]
    notes: list[str]
    refusals_known: bool

    @property
    def totals(self) -> dict[str, Any]:
        costs = [r.cost for r in self.rows if r.cost is not None]
        return {
            "prompt_tokens": int(sum(r.prompt_tokens for r in self.rows)),
            "completion_tokens": int(sum(r.completion_tokens for r in self.rows)),
            "total_tokens": int(sum(r.total_tokens for r in self.rows)),
            "requests": int(sum(r.requests for r in self.rows)),
            "refused": int(sum(r.refused or 0 for r in self.rows)) if self.refusals_known else None,
            "cost": round(sum(costs), 4) if costs else None,
        }

    def to_json(self) -> dict[str, Any]:
        return {"by": self.by, "from": iso(self.start), "to": iso(self.end), "totals": self.totals,
                "rows": [r.to_json() for r in self.rows], "notes": self.notes}

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
        writer.writeheader()
        for r in self.rows:
            data = r.to_json()
            data["subscriptions"] = " ".join(data["subscriptions"])
            writer.writerow({k: _csv_safe(data[k]) for k in CSV_FIELDS})
        return out.getvalue()


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _csv_safe(value: Any) -> Any:
    """Server strings in a spreadsheet: sanitised, and a leading = + - @ cannot start a formula."""
    if isinstance(value, str):
        value = sanitize(value)
        if value[:1] in ("=", "+", "-", "@"):
            value = "'" + value
    return value


class UsageService:
    def __init__(self, backend: Any, reader: Any, prices: dict[str, Price] | None = None) -> None:
        self.backend = backend
        self.reader = reader
        self.prices = prices or {}

    def _directory(self, sids: set[str]) -> dict[str, Subscription]:
        """The subscriptions behind the usage, by id: read one by one when few, else paged."""
        sids = {s for s in sids if s}
        if len(sids) < LOOKUP_ONE_BY_ONE:
            def get(sid: str) -> Subscription | None:
                try:
                    return self.backend.get_subscription(sid)
                except NotFoundError:
                    return None  # deleted since: its usage still counts, without owner

            with ThreadPoolExecutor(8, thread_name_prefix="apim-usage") as pool:
                return {s.name.lower(): s for s in pool.map(get, sorted(sids)) if s is not None}
        wanted = {x.lower() for x in sids}
        return {s.name.lower(): s for page in self.backend.iter_subscription_pages() for s in page
                if s.name.lower() in wanted}

    def report(self, start: datetime, end: datetime, by: str = "subscription") -> UsageReport:
        if by not in BY_CHOICES:
            raise UsageError(f"Cannot group usage by '{by}'.", f"Use one of: {', '.join(BY_CHOICES)}.")
        window = self.reader.read(start, end)
        directory = self._directory({r.key.subscription for r in window.records})
        rows: dict[str, UsageRow] = {}
        for rec in window.records:
            sid = rec.key.subscription
            sub = directory.get(sid.lower())
            product = rec.key.product or (sub.scope.id if sub and sub.scope.kind is ScopeKind.product else "") or ""
            owner = sub.owner if sub else ""
            key = {"subscription": sid or "(no subscription)", "product": product or "(no product)",
                   "owner": owner or "(no owner)"}[by]
            row = rows.setdefault(key, UsageRow(key))
            if by == "subscription" and sub is not None and sub.display_name:
                row.display_name = sub.display_name
            if sid:
                row.subscriptions.add(sid)
            if product:
                row.products.add(product)
            if owner:
                row.owners.add(owner)
            row.prompt_tokens += rec.prompt_tokens
            row.completion_tokens += rec.completion_tokens
            row.total_tokens += rec.total_tokens
            row.requests += rec.requests
            if rec.refused is not None:
                row.refused = (row.refused or 0.0) + rec.refused
            price = self.prices.get(product)
            if price is not None:
                row.cost = (row.cost or 0.0) + price.cost(rec.prompt_tokens, rec.completion_tokens)
        ordered = sorted(rows.values(), key=lambda r: (-r.total_tokens, r.key))
        notes = list(window.notes)
        if self.prices:
            unpriced = sorted({p for r in ordered for p in r.products} - set(self.prices))
            if unpriced:
                notes.append(f"No price for product {', '.join(unpriced)}: no cost shown for it.")
        return UsageReport(by, start, end, ordered, notes, window.refusals_known)


def reader_for(connection: Any):
    """A ``UsageWindowReader`` over the connection's Azure Monitor source (the sandbox's locally)."""
    from aiconsole.telemetry.select import build_source
    from aiconsole.telemetry.usage_window import UsageWindowReader

    return UsageWindowReader.from_source(build_source(connection, "monitor"))
