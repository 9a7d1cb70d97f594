"""Which key slot consumers use: per-slot call counters from telemetry.

APIM regenerates a key with no grace period, so a safe rotation must know which slot is idle
(regenerate it first) and when the old slot has gone quiet (regenerate it last). The port here
is one method, cumulative calls per slot for a subscription; adapters read it from wherever the
gateway reports it.

- The sandbox gateway counts calls per subscription and key slot in its Prometheus metrics;
  ``PrometheusSlotUsage`` reads them.
- A real APIM can report the same through ``llm-emit-token-metric`` (or
  ``azure-openai-emit-token-metric``) with one extra dimension in the API's inbound policy::

      <llm-emit-token-metric namespace="aiconsole">
        <dimension name="Subscription ID" />
        <dimension name="Key Slot" value="@(context.Subscription == null ? &quot;none&quot; :
            context.Subscription.Key == context.Subscription.PrimaryKey ? &quot;primary&quot; : &quot;secondary&quot;)" />
      </llm-emit-token-metric>

  Application Insights then holds ``customMetrics`` with ``customDimensions["Key Slot"]``; a
  Prometheus-compatible export (or an OpenTelemetry collector in front of a self-hosted gateway)
  can expose it with labels ``subscription`` and ``slot``, which this adapter reads. Cloud
  metrics arrive about a minute late, so pick ``--wait-idle`` longer than that delay.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Protocol

from aiconsole.domain.errors import AiconsoleError, ConnectionFailedError, UsageError
from aiconsole.domain.models import Slot

SLOTS: tuple[Slot, ...] = ("primary", "secondary")
SUBSCRIPTION_LABELS = ("subscription", "subscription_id", "sid", "subscription_name")
SLOT_LABELS = ("slot", "key_slot", "key", "key_type")


class SlotUsage(Protocol):
    """Cumulative calls per key slot of one subscription (counters: only their changes matter)."""

    def calls_by_slot(self, sid: str) -> dict[str, float]: ...


class PrometheusSlotUsage:
    """Per-slot call counters from a Prometheus exposition endpoint.

    Sums every counter sample whose labels name the subscription and a key slot; ``metric``
    narrows it to one metric family (by name prefix) when the endpoint exposes several.
    """

    def __init__(self, url: str, *, metric: str | None = None, timeout: float = 5.0) -> None:
        from aiconsole.backends.urls import check_url

        self.url = check_url(url, what="key-slot metrics URL")  # plain HTTP to loopback only
        self.metric = metric
        self.timeout = timeout

    def calls_by_slot(self, sid: str) -> dict[str, float]:
        import httpx
        from prometheus_client.parser import text_string_to_metric_families

        try:
            response = httpx.get(self.url, timeout=self.timeout)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise ConnectionFailedError(f"Could not read key-slot metrics from {self.url} ({type(exc).__name__}).",
                                        "Check the metrics URL, or give --in-use and confirm by hand.") from None
        return slot_counts(text_string_to_metric_families(response.text), sid, metric=self.metric)


SLOT_METRICS_ENV = "AICONSOLE_SLOT_METRICS_URL"


def slot_usage_for(connection, url: str | None = None) -> PrometheusSlotUsage | None:
    """Where per-slot call counts come from, for the CLI and the console alike: ``url`` (the
    CLI's ``--slot-metrics``), else ``AICONSOLE_SLOT_METRICS_URL``, else the sandbox's Prometheus
    endpoint (``metrics_url``, or ``prometheus_url`` with ``/metrics`` added); None when nothing
    reports them."""
    url = url or os.environ.get(SLOT_METRICS_ENV)
    if not url:
        info = getattr(connection, "sandbox_info", None) or {}
        url = info.get("metrics_url") or info.get("prometheus_url")
        if url and not url.rstrip("/").endswith("metrics"):
            url = url.rstrip("/") + "/metrics"
    return PrometheusSlotUsage(url) if url else None


def slot_counts(families, sid: str, *, metric: str | None = None) -> dict[str, float]:
    """Pick the per-slot totals for ``sid`` out of parsed metric families."""
    out = {s: 0.0 for s in SLOTS}
    low = sid.lower()
    for family in families:
        if metric and not family.name.startswith(metric):
            continue
        if family.type not in ("counter", "untyped"):
            continue
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            labels = sample.labels
            who = next((labels[k] for k in SUBSCRIPTION_LABELS if k in labels), None)
            slot = next((labels[k] for k in SLOT_LABELS if k in labels), None)
            if who is None or slot is None or who.lower() != low or slot not in out:
                continue
            out[slot] += float(sample.value)
    return out


class InferenceError(UsageError):
    """Telemetry cannot say which slot is in use: the user must say it."""


def infer_in_use(usage: SlotUsage, sid: str, *, window: float = 10.0,
                 sleep: Callable[[float], None] = time.sleep) -> Slot:
    """The slot consumers use now, from the counters.

    One slot ever used: that one. Both used: watch for ``window`` seconds and take the one that
    moves. Both moving means consumers use both slots and no slot can be regenerated safely.
    """
    first = usage.calls_by_slot(sid)
    used = [s for s in SLOTS if first.get(s, 0) > 0]
    if len(used) == 1:
        return used[0]
    if not used:
        raise InferenceError(f"No calls with either key of '{sid}' were seen, so the slot in use is unknown.",
                             "Say which slot consumers use with --in-use primary|secondary.")
    sleep(window)
    second = usage.calls_by_slot(sid)
    moving = [s for s in SLOTS if second.get(s, 0) > first.get(s, 0)]
    if len(moving) == 1:
        return moving[0]
    if len(moving) == 2:
        raise InferenceError(f"Consumers of '{sid}' are calling with both keys, so neither can be regenerated safely.",
                             "Move every consumer to one key first, then give --in-use.")
    raise InferenceError(f"Both keys of '{sid}' have been used but neither moved in {window:.0f} s.",
                         "Say which slot consumers use with --in-use primary|secondary.")


class WaitTimedOut(AiconsoleError):
    """The old slot kept receiving calls for longer than the caller was willing to wait."""


def wait_until_idle(usage: SlotUsage, sid: str, slot: Slot, idle_for: timedelta, *, poll: float,
                    clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                    timeout: timedelta | None = None,
                    on_poll: Callable[[dict[str, float], float], None] | None = None) -> dict[str, float]:
    """Return once ``slot`` has had no new calls for ``idle_for`` (at least one poll is made).

    ``clock``/``sleep`` are injectable so tests drive time without sleeping. ``on_poll`` gets
    the counters and the seconds the slot has been quiet, for a live display.
    """
    need = idle_for.total_seconds()
    start = clock()
    counts = usage.calls_by_slot(sid)
    last_value = counts.get(slot, 0.0)
    last_change = start
    polled = False
    while True:
        quiet = clock() - last_change
        if polled and quiet >= need:
            return counts
        if timeout is not None and clock() - start >= timeout.total_seconds():
            raise WaitTimedOut(
                f"The {slot} key of '{sid}' was still in use after {timeout.total_seconds():.0f} s.",
                "Move the remaining consumers to the new key, then run the same command again to continue.")
        sleep(max(0.0, min(poll, need - quiet) if polled and need > quiet else poll))
        counts = usage.calls_by_slot(sid)
        value = counts.get(slot, 0.0)
        if value != last_value:
            last_value = value
            last_change = clock()
        polled = True
        if on_poll is not None:
            on_poll(counts, clock() - last_change)
