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


def _samples(text: str, wanted: frozenset[str]):
    """``(name, labels, value)`` of the samples named in ``wanted``.

    Lines of the plain shapes ``name{a="x",...} value`` and ``name value`` (what exporters
    write) are read with a regular expression; everything else — comments, escapes, anything
    unusual or broken — goes to prometheus-client's parser, the reference, which raises
    ``ValueError`` on text that is not exposition. Tests hold the two to the same answers.
    """
    odd: list[str] = []
    findall = _LABEL.findall
    for line in text.split("\n"):  # not splitlines(): \x1c-\x1e and friends are not line ends here
        if not line or line[0] == "#" or "\\" in line:
            odd.append(line)
            continue
        brace = line.find("{")
        if brace > 0:
            close = line.rfind("} ")
            name = line[:brace]
            if close < brace or not _NAME.match(name):
                odd.append(line)
                continue
            inner = line[brace + 1:close]
            rest = line[close + 2:]
        else:
            name, _, rest = line.partition(" ")
            inner = ""
            if not _NAME.match(name):
                odd.append(line)
                continue
        value_text = rest.split(" ", 1)[0]
        try:
            value = float(value_text)
        except ValueError:
            odd.append(line)
            continue
        if "_" in value_text:  # Python's float() takes 1_000; the exposition format does not
            odd.append(line)
            continue
        if name not in wanted:
            continue
        pairs = findall(inner) if inner else []
        if inner.count('="') != len(pairs):
            odd.append(line)
            continue
        yield name, dict(pairs), value
    if not odd:
        return
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families("\n".join(odd) + "\n"):
        for sample in family.samples:
            if sample.name in wanted:
                yield sample.name, sample.labels, sample.value


def parse_exposition(text: str, names: PrometheusNames = PrometheusNames(), *, reference: bool = False) -> dict[Hashable, float]:
    """The counters we use from one exposition, keyed by what they count.

    Keys: ``("tok"|"ptok"|"ctok", sid, product, api)``, ``("req", sid, product, api, status)``
    and ``("thr", sid, api, reason, policy, scope, status)``. Raises ``ValueError`` on text
    that is not Prometheus exposition. ``reference=True`` reads every line with
    prometheus-client's parser (slower; used by tests to check the fast path).
    """
    token_kinds = {names.total_tokens: "tok", names.prompt_tokens: "ptok", names.completion_tokens: "ctok"}
    out: dict[Hashable, float] = {}
    n_sub, n_prod, n_api, n_status = names.subscription, names.product, names.api, names.status
    wanted = frozenset((names.requests, names.throttled, *token_kinds))
    if reference:
        from prometheus_client.parser import text_string_to_metric_families

        samples = ((s.name, s.labels, s.value) for f in text_string_to_metric_families(text) for s in f.samples)
    else:
        samples = _samples(text, wanted)
    for name, labels, value in samples:
        if name == names.requests:
            try:
                status = int(labels.get(n_status, "0"))
            except ValueError:
                continue
            key: tuple = ("req", labels.get(n_sub, ""), labels.get(n_prod, ""), labels.get(n_api, ""), status)
        elif name in token_kinds:
            key = (token_kinds[name], labels.get(n_sub, ""), labels.get(n_prod, ""), labels.get(n_api, ""))
        elif name == names.throttled:
            try:
                status = int(labels.get(n_status, "0"))
            except ValueError:
                continue
            key = ("thr", labels.get(n_sub, ""), labels.get(n_api, ""), labels.get("reason", ""),
                   labels.get("policy", ""), labels.get("scope", ""), status)
        else:
            continue
        # Token counters may carry more labels (client IP, operation): sum them into our key.
        out[key] = out.get(key, 0.0) + float(value)
    return out


def build_usages(rates: dict[Hashable, float], history: dict[Hashable, list[float]],
                 throttle_series: bool) -> list[Usage]:
    """Fold per-series rates into one ``Usage`` per (subscription, product, API).

    When the source reports which policy refused what (``throttle_series``), 429s beyond those
    are the backend's own (the model deployment said 429, APIM passed it on).
    """
    usages: dict[SeriesKey, Usage] = {}
    product_of: dict[tuple[str, str], str] = {}

    def usage(sid: str, product: str, api: str) -> Usage:
        key = SeriesKey(sid, product, api)
        u = usages.get(key)
        if u is None:
            u = usages[key] = Usage(key, history=[0.0] * HISTORY_MINUTES, refused_history=[0.0] * HISTORY_MINUTES)
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
            values = parse_exposition(text, self.names)
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

