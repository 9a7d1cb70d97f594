"""Azure Monitor and Log Analytics adapters on stand-in clients: per-minute series into rates,
complete minutes only, data age, truncation, dimension fallback, and refusal classification."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from aiconsole.services.triage import aggregate
from aiconsole.telemetry.azure_monitor import AzureMonitorSource
from aiconsole.telemetry.gateway_logs import GatewayLogs, classify
from aiconsole.telemetry.port import (
    AUTH,
    BACKEND_429,
    CALL_QUOTA,
    RATE_LIMIT,
    TOKEN_QUOTA,
    TOKEN_RATE,
    UNCLASSIFIED_429,
    TelemetryError,
)

NOW = datetime(2026, 1, 15, 9, 30, 40, tzinfo=timezone.utc)


def point(minute: datetime, total: float):
    return SimpleNamespace(timestamp=minute, total=total)


def series(md: dict, values: dict[datetime, float]):
    return SimpleNamespace(metadata_values=md, data=[point(m, v) for m, v in values.items()])


def metric(name: str, ts: list):
    return SimpleNamespace(name=name, timeseries=ts)


class FakeMetrics:
    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def query_resources(self, **kw):
        self.calls.append(kw)
        answer = self.answers(kw)
        if isinstance(answer, Exception):
            raise answer
        return [SimpleNamespace(metrics=answer)]


def minute(k: int) -> datetime:
    """``k`` minutes before the last complete minute (ingestion delay 60 s)."""
    return datetime(2026, 1, 15, 9, 29, tzinfo=timezone.utc) - timedelta(minutes=k + 1)


def answers(kw):
    if kw["metric_namespace"] == "API Management":
        ts = series({"subscription id": "noisy", "api id": "llm", "product id": "starter"},
                    {minute(0): 600.0, minute(1): 300.0, minute(20): 99999.0})
        return [metric(n, [ts]) for n in kw["metric_names"]]
    return [metric("Requests", [
        series({"gatewayresponsecode": "429", "apiid": "llm"}, {minute(0): 30.0, minute(1): 30.0}),
        series({"gatewayresponsecode": "200", "apiid": "llm"}, {minute(0): 10.0}),
    ])]


def source(answer=answers, **kw) -> tuple[AzureMonitorSource, FakeMetrics]:
    client = FakeMetrics(answer)
    return AzureMonitorSource(client, resource_id="/apim", app_insights_resource_id="/appi", now=lambda: NOW, **kw), client


def test_rates_are_sums_over_complete_minutes_of_the_window():
    src, client = source()
    snap = src.sample(120)
    [row] = [r for r in aggregate(snap) if r.key == "noisy"]
    assert row.tokens_per_minute == pytest.approx(450)  # (600 + 300) / 2
    assert row.throttled_per_minute is None  # no subscription dimension on Requests
    assert snap.api_statuses["llm"][429] == pytest.approx(30)
    assert snap.observed_at == datetime(2026, 1, 15, 9, 29, tzinfo=timezone.utc)
    assert snap.data_age_seconds == pytest.approx(100)
    assert "delay" in snap.age_label
    start, end = client.calls[0]["timespan"]
    assert end == datetime(2026, 1, 15, 9, 29, tzinfo=timezone.utc) and end - start == timedelta(minutes=15)
    assert client.calls[0]["granularity"] == timedelta(minutes=1)
    assert client.calls[0]["max_results"] >= 1000
    assert len(row.history) == 15 and row.history[-1] == 600 and 99999.0 not in row.history
    api = {r.key: r for r in aggregate(snap, "api")}["llm"]
    assert api.throttled_per_minute == pytest.approx(30)


def test_a_full_answer_raises_top_once_then_says_truncated():
    def full(kw):
        n = kw["max_results"]
        ts = [series({"subscription id": f"s{i}"}, {minute(0): 1.0}) for i in range(n)]
        return [metric(name, ts) for name in kw["metric_names"]]

    src, client = source(full, top=10, max_top=160)
    snap = src.sample(60)
    tops = [c["max_results"] for c in client.calls]
    assert tops[:3] == [10, 40, 160]
    assert snap.truncated and any("as many series" in w for w in snap.warnings)


def test_missing_dimensions_fall_back_to_the_subscription_alone():
    from azure.core.exceptions import HttpResponseError

    def picky(kw):
        if kw["metric_namespace"] == "API Management" and "API ID" in (kw["filter"] or ""):
            err = HttpResponseError(message="Metric does not have dimension 'API ID'.")
            err.status_code = 400
            return err
        return answers(kw)

    src, client = source(picky)
    snap = src.sample(60)
    assert any(u.key.subscription == "noisy" for u in snap.usages)


@pytest.mark.parametrize("status, words", [(403, "Monitoring Reader"), (404, "does not know"), (429, "throttling")])
def test_errors_are_sentences(status, words):
    from azure.core.exceptions import HttpResponseError

    def fail(kw):
        err = HttpResponseError(message="boom")
        err.status_code = status
        return err

    src, _ = source(fail)
    with pytest.raises(TelemetryError) as info:
        src.sample(60)
    assert words in info.value.message + info.value.hint


@pytest.mark.parametrize("status, backend, source_name, reason, kind", [
    (429, None, "llm-token-limit", "TokenLimitExceeded", TOKEN_RATE),
    (429, None, "azure-openai-token-limit", "", TOKEN_RATE),
    (403, None, "llm-token-limit", "QuotaExceeded", TOKEN_QUOTA),
    (429, None, "rate-limit-by-key", "RateLimitExceeded", RATE_LIMIT),
    (403, None, "quota-by-key", "QuotaExceeded", CALL_QUOTA),
    (429, 429, "", "", BACKEND_429),
    (401, None, "", "SubscriptionKeyInvalid", AUTH),
    (429, None, "", "", UNCLASSIFIED_429),
])
def test_log_rows_are_classified(status, backend, source_name, reason, kind):
    assert classify(status, backend, source_name, reason) == kind


def test_gateway_logs_fold_rows_per_subscription():
    columns = ["ApimSubscriptionId", "ApiId", "ProductId", "ResponseCode", "BackendResponseCode", "LastErrorSource",
               "LastErrorReason", "LastErrorScope", "Requests"]
    rows = [["noisy", "llm", "starter", 429, None, "llm-token-limit", "TokenLimitExceeded", "product", 30],
            ["noisy", "llm", "starter", 429, 429, "", "", "", 4],
            ["calm", "llm", "premium", 401, None, "", "SubscriptionKeyInvalid", "", 2]]
    client = SimpleNamespace(query_workspace=lambda *a, **k: SimpleNamespace(
        tables=[SimpleNamespace(columns=columns, rows=rows)]))
    logs = GatewayLogs(client, "ws")
    found = logs.refusals(NOW - timedelta(minutes=1), NOW)
    noisy = {tk.reason: n for key, by in found.items() if key.subscription == "noisy" for tk, n in by.items()}
    assert noisy == {TOKEN_RATE: 30, BACKEND_429: 4}
    src, _ = source(logs=logs)
    snap = src.sample(60)
    assert snap.per_subscription_status
    row = {r.key: r for r in aggregate(snap)}["noisy"]
    assert row.throttled_per_minute == pytest.approx(34)
