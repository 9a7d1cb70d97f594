"""Prometheus adapter: scrape an exposition endpoint, keep counters, answer rates per minute.

Used for self-hosted gateways (their OpenTelemetry collector's Prometheus exporter) and for the
sandbox. The metric and label names are those of Microsoft's collector example with
``namespace: azure_apim`` (see ``PrometheusNames``): ``azure_apim_requests_total`` by
``gateway_response_code``/``api_id``/``product_id``/``subscription_id``, and the token counters
that ``llm-emit-token-metric`` dimensions become (``azure_apim_total_tokens_total`` ...). A
series saying which policy refused a request (``aiconsole_sandbox_throttled_requests_total``,
with ``reason``/``policy``/``scope``) is used when present; without it a 429 is attributed
to "a limit" by the triage service, which knows the limits.

Rates come from our own successive scrapes (``CounterTracker``): no recording rules are
assumed, a restart never yields a negative rate, and the data age is the time since the last
successful scrape.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime, timezone

from aiconsole.backends.urls import check_url
from aiconsole.telemetry.port import (
    BACKEND_429,
    HISTORY_MINUTES,
    SeriesKey,
    TelemetryError,
    ThrottleKey,
    TrafficSnapshot,
    Usage,
)
from aiconsole.telemetry.rates import CounterTracker

DEFAULT_TIMEOUT = 5.0
MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class PrometheusNames:
    """Sample names (with ``_total``) and label names; override for another collector setup."""

    requests: str = "azure_apim_requests_total"
    total_tokens: str = "azure_apim_total_tokens_total"
    prompt_tokens: str = "azure_apim_prompt_tokens_total"
    completion_tokens: str = "azure_apim_completion_tokens_total"
    throttled: str = "aiconsole_sandbox_throttled_requests_total"
    subscription: str = "subscription_id"
    product: str = "product_id"
    api: str = "api_id"
    status: str = "gateway_response_code"


_NAME = re.compile(r'[a-zA-Z_:][a-zA-Z0-9_:]*\Z')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"')


_ODD = object()
CACHE_LIMIT = 200_000


def _series(series: str) -> tuple[str, dict[str, str]] | object:
    """``name{a="x",...}`` or ``name`` → (name, labels); ``_ODD`` if it is not that plain shape."""
    brace = series.find("{")
    if brace < 0:
        return (series, {}) if _NAME.match(series) else _ODD
    name = series[:brace]
    if not series.endswith("}") or not _NAME.match(name):
        return _ODD
    inner = series[brace + 1:-1]
    pairs = _LABEL.findall(inner) if inner else []
    if inner.count('="') != len(pairs):
        return _ODD
    return name, dict(pairs)


class _KeyMaker:
    """Our key for one sample (see ``parse_exposition``), or None for samples we do not use."""

    def __init__(self, names: PrometheusNames) -> None:
        self.names = names
        self.token_kinds = {names.total_tokens: "tok", names.prompt_tokens: "ptok", names.completion_tokens: "ctok"}

    def __call__(self, name: str, labels: dict[str, str]) -> tuple | None:
        n = self.names
        if name == n.requests:
            try:
                status = int(labels.get(n.status, "0"))
            except ValueError:
                return None
            return ("req", labels.get(n.subscription, ""), labels.get(n.product, ""), labels.get(n.api, ""), status)
        kind = self.token_kinds.get(name)
        if kind is not None:
            return (kind, labels.get(n.subscription, ""), labels.get(n.product, ""), labels.get(n.api, ""))
        if name == n.throttled:
            try:
                status = int(labels.get(n.status, "0"))
            except ValueError:
                return None
            return ("thr", labels.get(n.subscription, ""), labels.get(n.api, ""), labels.get("reason", ""),
                    labels.get("policy", ""), labels.get("scope", ""), status)
        return None


def parse_exposition(text: str, names: PrometheusNames = PrometheusNames(), *, reference: bool = False,
                     cache: dict | None = None) -> dict[Hashable, float]:
    """The counters we use from one exposition, keyed by what they count.

    Keys: ``("tok"|"ptok"|"ctok", sid, product, api)``, ``("req", sid, product, api, status)``
    and ``("thr", sid, api, reason, policy, scope, status)``; samples that differ only in other
    labels (client IP, operation) are summed. Raises ``ValueError`` on text that is not
    Prometheus exposition.

    Lines of the plain shapes ``name{a="x",...} value`` and ``name value`` (what exporters write)
    are read here, and what a series' labels map to is remembered in ``cache`` (a scrape repeats
    the same series with new values, so the second scrape reads only numbers). Everything else —
    comments, escapes, anything unusual or broken — goes to prometheus-client's parser, the
    reference, which also judges whether the text is exposition at all. ``reference=True`` reads
    every line with it (tests hold the two paths to the same answers).
    """
    make_key = _KeyMaker(names)
    out: dict[Hashable, float] = {}
    odd: list[str] = []
    if reference:
        odd = [text]
    else:
        if cache is None:
            cache = {}
        elif len(cache) > CACHE_LIMIT:
            cache.clear()
        get = cache.get
        for line in text.split("\n"):  # not splitlines(): \x1c-\x1e and friends are not line ends here
            if not line or line[0] == "#" or "\\" in line:
                odd.append(line)
                continue
            cut = line.rfind("} ")
            if cut > 0:
                series, rest = line[:cut + 1], line[cut + 2:]
            else:
                series, _, rest = line.partition(" ")
            value_text = rest.split(" ", 1)[0]
            try:
                value = float(value_text)
            except ValueError:
                odd.append(line)
                continue
            if "_" in value_text:  # Python's float() takes 1_000; the exposition format does not
                odd.append(line)
                continue
            key = get(series, _ODD)
            if key is _ODD:
                parsed = _series(series)
                if parsed is _ODD:
                    odd.append(line)
                    continue
                key = cache[series] = make_key(*parsed)  # type: ignore[misc]
            if key is not None:
                out[key] = out.get(key, 0.0) + value
    if odd:
        from prometheus_client.parser import text_string_to_metric_families

        for family in text_string_to_metric_families("\n".join(odd) + "\n"):
            for sample in family.samples:
                key = make_key(sample.name, sample.labels)
                if key is not None:
                    out[key] = out.get(key, 0.0) + float(sample.value)
    return out


def build_usages(rates: dict[Hashable, float], history: dict[Hashable, list[float]],
                 throttle_series: bool) -> list[Usage]:
    """Fold per-series rates into one ``Usage`` per (subscription, product, API).

    When the source reports which policy refused what (``throttle_series``), 429s beyond those
    are the backend's own (the model deployment said 429, APIM passed it on).
    """
    usages: dict[tuple[str, str, str], Usage] = {}  # plain tuples: a frozen dataclass hashes slowly
    product_of: dict[tuple[str, str], str] = {}

    def usage(sid: str, product: str, api: str) -> Usage:
        u = usages.get((sid, product, api))
        if u is None:
            u = usages[(sid, product, api)] = Usage(SeriesKey(sid, product, api), history=[0.0] * HISTORY_MINUTES,
                                                    refused_history=[0.0] * HISTORY_MINUTES)
        return u

    for key, rate in rates.items():
        kind = key[0]
        if kind == "req":
            _, sid, product, api, status = key
            product_of[(sid, api)] = product
            u = usage(sid, product, api)
            u.requests += rate
            u.statuses[status] = u.statuses.get(status, 0.0) + rate
        elif kind in ("tok", "ptok", "ctok"):
            _, sid, product, api = key
            product_of.setdefault((sid, api), product)
            u = usage(sid, product, api)
            if kind == "tok":
                u.tokens += rate
            elif kind == "ptok":
                u.prompt_tokens += rate
            else:
                u.completion_tokens += rate
    for key, rate in rates.items():
        if key[0] != "thr":
            continue
        _, sid, api, reason, policy, scope, status = key
        u = usage(sid, product_of.get((sid, api), ""), api)
        tk = ThrottleKey(reason or str(status), status, policy, scope)
        u.throttles[tk] = u.throttles.get(tk, 0.0) + rate
    if throttle_series:
        for u in usages.values():
            policy_429 = sum(r for tk, r in u.throttles.items() if tk.status == 429)
            extra = u.status(429) - policy_429
            if extra > 1e-9:
                u.throttles[ThrottleKey(BACKEND_429, 429, "backend", f"api:{u.key.api}" if u.key.api else "")] = extra
    for key, series in history.items():
        kind = key[0]
        if kind == "tok":
            _, sid, product, api = key
            u = usage(sid, product, api)
            u.history = [a + b for a, b in zip(u.history, series)]
        elif kind == "req" and key[4] in (429, 403):
            _, sid, product, api, _status = key
            u = usage(sid, product, api)
            u.refused_history = [a + b for a, b in zip(u.refused_history, series)]
    return list(usages.values())


class PrometheusSource:
    """Scrapes one endpoint; each ``sample`` is one scrape plus rates over the window."""

    name = "prometheus"

    def __init__(self, url: str, *, names: PrometheusNames = PrometheusNames(), timeout: float = DEFAULT_TIMEOUT,
                 monotonic: Callable[[], float] = time.monotonic,
                 wall: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 client=None) -> None:
        self.url = check_url(url, what="metrics URL")
        self.names = names
        self.timeout = timeout
        self.monotonic = monotonic
        self.wall = wall
        self.tracker = CounterTracker()
        self._client = client
        self._own_client = client is None
        self._has_throttle_series = False
        self._series_cache: dict = {}
        self._last_ok_wall: datetime | None = None

    def _http(self):
        if self._client is None:
            import httpx

            self._client = httpx.Client(timeout=self.timeout, follow_redirects=False)
        return self._client

    def scrape(self) -> str:
        """GET the exposition text; ``TelemetryError`` with a sentence on any failure."""
        import httpx

        try:
            response = self._http().get(self.url, headers={"Accept": "text/plain;version=0.0.4"})
        except httpx.TimeoutException:
            raise TelemetryError(f"The metrics endpoint {self.url} did not answer within {self.timeout:g}s.",
                                 "Showing the last numbers; retrying with backoff.") from None
        except httpx.HTTPError as exc:
            raise TelemetryError(f"Cannot reach the metrics endpoint {self.url} ({type(exc).__name__}).",
                                 "Is the gateway's collector running? Retrying with backoff.") from None
        if response.status_code != 200:
            raise TelemetryError(f"The metrics endpoint {self.url} answered HTTP {response.status_code}.",
                                 "Check the URL; retrying with backoff.")
        if len(response.content) > MAX_BYTES:
            raise TelemetryError(f"The metrics endpoint {self.url} sent more than {MAX_BYTES // 2**20} MB.")
        ctype = response.headers.get("content-type", "")
        if "html" in ctype or "json" in ctype:
            raise TelemetryError(f"The metrics endpoint {self.url} answered {ctype.split(';')[0]}, not Prometheus text.",
                                 "Point the console at the collector's /metrics URL.")
        return response.text

    def read(self) -> dict[Hashable, float]:
        text = self.scrape()
        try:
            values = parse_exposition(text, self.names, cache=self._series_cache)
        except (ValueError, TypeError, IndexError) as exc:
            raise TelemetryError(f"The metrics endpoint {self.url} sent text that is not Prometheus exposition "
                                 f"({type(exc).__name__}).", "Point the console at the collector's /metrics URL.") from None
        if text.strip() and not values and "# TYPE" not in text:
            raise TelemetryError(f"The metrics endpoint {self.url} sent no metrics the console knows.",
                                 "Point the console at the collector's /metrics URL.")
        return values

    def observe(self) -> int:
        """One scrape into the tracker; returns the number of counter resets it revealed."""
        values = self.read()
        t = self.monotonic()
        self._last_ok_t = t
        self._last_ok_wall = self.wall()
        if any(k[0] == "thr" for k in values):
            self._has_throttle_series = True
        return self.tracker.observe(t, values)

    def snapshot(self, window_seconds: float, *, resets: int = 0) -> TrafficSnapshot:
        """Rates over the window from what has been observed so far (no I/O)."""
        rates, covered = self.tracker.rates(window_seconds)
        keys = [k for k in self.tracker.keys if k[0] == "tok" or (k[0] == "req" and k[4] in (429, 403))]
        history = self.tracker.history(keys, HISTORY_MINUTES)
        usages = build_usages(rates, history, self._has_throttle_series)
        # Series with traffic in the history but none in the window still get a row (sparkline).
        now = self.wall()
        observed = self._last_ok_wall or now
        warnings = []
        if covered <= 0:
            warnings.append("Rates need two scrapes; the first one is in.")
        elif covered + 1 < window_seconds:
            warnings.append(f"Rates cover the {int(covered)}s observed so far, not the whole window.")
        if resets:
            warnings.append(f"The metrics endpoint restarted ({resets} counters reset); rates count from the restart.")
        return TrafficSnapshot(
            source=self.name, window_seconds=covered, observed_at=observed,
            data_age_seconds=max(0.0, (now - observed).total_seconds()), delay_note="live scrape",
            usages=usages, per_subscription_status=True, warnings=warnings, resets=resets,
        )

    def sample(self, window_seconds: float) -> TrafficSnapshot:
        resets = self.observe()
        return self.snapshot(window_seconds, resets=resets)

    def close(self) -> None:
        if self._own_client and self._client is not None:
            self._client.close()
            self._client = None

