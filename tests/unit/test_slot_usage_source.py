"""The console's rotation panel and ``aiconsole keys rotate --two-slot`` find the per-slot call
counters in the same place: an explicit URL, else AICONSOLE_SLOT_METRICS_URL, else the sandbox's
Prometheus endpoint (``metrics_url``, or ``prometheus_url`` with ``/metrics`` added)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from aiconsole.cli.commands.keys import _slot_usage
from aiconsole.tui.screens.rotation import slot_usage_for


def console_url(sandbox_info):
    app = SimpleNamespace(connection=SimpleNamespace(sandbox_info=sandbox_info))
    usage = slot_usage_for(app)
    return None if usage is None else usage.url


def cli_url(sandbox_info, flag=None):
    ctx = SimpleNamespace(connection=SimpleNamespace(sandbox_info=sandbox_info), args=SimpleNamespace(slot_metrics=flag))
    usage = _slot_usage(ctx)
    return None if usage is None else usage.url


@pytest.mark.parametrize("info, expected", [
    ({"prometheus_url": "http://127.0.0.1:9100"}, "http://127.0.0.1:9100/metrics"),
    ({"prometheus_url": "http://127.0.0.1:9100/"}, "http://127.0.0.1:9100/metrics"),
    ({"metrics_url": "http://127.0.0.1:9100/metrics", "prometheus_url": "http://127.0.0.1:1/x"},
     "http://127.0.0.1:9100/metrics"),
    ({}, None),
    (None, None),
])
def test_console_and_cli_read_the_same_counters(monkeypatch, info, expected):
    monkeypatch.delenv("AICONSOLE_SLOT_METRICS_URL", raising=False)
    assert console_url(info) == expected
    assert cli_url(info) == expected


def test_the_environment_names_the_counters_for_both(monkeypatch):
    monkeypatch.setenv("AICONSOLE_SLOT_METRICS_URL", "http://127.0.0.1:7000/slots")
    info = {"metrics_url": "http://127.0.0.1:9100/metrics"}
    assert console_url(info) == "http://127.0.0.1:7000/slots"
    assert cli_url(info) == "http://127.0.0.1:7000/slots"
    assert cli_url(info, flag="http://127.0.0.1:7001/m") == "http://127.0.0.1:7001/m"  # --slot-metrics wins
