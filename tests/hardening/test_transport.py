"""Transport security (issue #10 item 6): plain HTTP is refused for every non-loopback URL the
console accepts (CLI flags, profiles, telemetry, node and probe URLs), TLS verification is never
turned off anywhere in the source, and no flag, setting or variable exists that would turn it off."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from aiconsole.domain.errors import InsecureTransportError
from tests.hardening.conftest import run_cli_inproc

SOURCE = Path(__file__).resolve().parents[2] / "aiconsole"
REMOTE_HTTP = ["http://apim.example.com", "http://10.0.0.7:8080", "http://[2001:db8::1]:80",
               "http://127.0.0.1.nip.io", "http://0x7f.1", "HTTP://management.azure.com"]
LOOPBACK_HTTP = ["http://127.0.0.1:9", "http://[::1]:9", "http://localhost:9", "http://127.8.9.10:9"]

# Keyword arguments that would switch certificate checks off in httpx, requests or azure-core.
TLS_OFF_KEYWORDS = {"verify", "connection_verify", "ssl", "verify_ssl", "check_hostname"}
# Callees whose ``verify`` keyword means something else (the audit chain, asking ARM about tokens).
OTHER_MEANINGS = {"load", "token_status", "overview", "expiring", "verify_chain"}


def _python_files() -> list[Path]:
    return sorted(SOURCE.rglob("*.py"))


def test_no_source_file_turns_tls_verification_off():
    offences = []
    for path in _python_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                callee = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                for kw in node.keywords:
                    if kw.arg in TLS_OFF_KEYWORDS and isinstance(kw.value, ast.Constant) and kw.value.value is False:
                        if not (kw.arg == "verify" and callee in OTHER_MEANINGS):
                            offences.append(f"{path.relative_to(SOURCE.parent)}:{node.lineno} {callee}({kw.arg}=False)")
            if isinstance(node, ast.Attribute) and node.attr in ("CERT_NONE", "_create_unverified_context"):
                offences.append(f"{path.relative_to(SOURCE.parent)}:{node.lineno} ssl.{node.attr}")
    assert not offences, offences


def test_no_switch_or_variable_turns_tls_off():
    pattern = re.compile(r"insecure(?!transport)|skip[-_]?tls|no[-_]?tls|verify[-_]?ssl|ssl[-_]?verify|"
                         r"PYTHONHTTPSVERIFY|disable[-_]?(?:ssl|tls|cert)", re.IGNORECASE)
    hits = [f"{p.relative_to(SOURCE.parent)}: {m.group()}" for p in _python_files()
            for m in pattern.finditer(p.read_text(encoding="utf-8").replace("InsecureTransportError", ""))]
    assert not hits, hits


@pytest.mark.parametrize("url", REMOTE_HTTP)
def test_check_url_refuses_remote_http(url):
    from aiconsole.backends.urls import check_url

    with pytest.raises(InsecureTransportError):
        check_url(url)


@pytest.mark.parametrize("url", LOOPBACK_HTTP)
def test_check_url_allows_loopback_http(url):
    from aiconsole.backends.urls import check_url

    assert check_url(url) == url
    assert check_url(f" {url}/ ") == url  # the same URL, trimmed


def test_every_telemetry_and_node_adapter_refuses_remote_http():
    """Each adapter checks its own URL, so a caller that skips the CLI cannot skip the rule."""
    from aiconsole.telemetry import azure_monitor, node_health, prometheus, probe

    url = "http://metrics.example.com"
    with pytest.raises(InsecureTransportError):
        prometheus.PrometheusSource(url)
    with pytest.raises(InsecureTransportError):
        node_health.scrape(url)
    with pytest.raises(InsecureTransportError):
        azure_monitor.monitor_client(url, credential=None)
    with pytest.raises(InsecureTransportError):
        probe.ProbeTarget(gateway_url=url, api="a", path="a", kind="openai", model="m").url()
    health = node_health.probe_node(url)  # never raises: a refused URL is a result, and not contacted
    assert not health.healthy and health.status == "invalid"


@pytest.mark.parametrize("argv", [
    ["--sandbox", "{url}", "subs", "list"],
    ["profile", "add", "p1", "--sandbox", "{url}"],
    ["profile", "add", "p2", "--azure", "--subscription-id", "00000000-0000-0000-0000-000000000000",
     "--resource-group", "rg", "--service", "svc", "--management-url", "{url}"],
    ["--sandbox", "{loop}", "top", "--once", "--source", "monitor", "--monitor-endpoint", "{url}"],
    ["--sandbox", "{loop}", "probe", "batch-summarizer", "--gateway-url", "{url}"],
    ["--sandbox", "{loop}", "keys", "slots", "batch-summarizer", "--slot-metrics", "{url}"],
], ids=["global --sandbox", "profile sandbox", "profile management-url", "top monitor", "probe", "slot metrics"])
def test_cli_refuses_remote_http_with_one_sentence(hostile, tmp_path, argv):
    args = [a.replace("{url}", "http://gateway.example.com").replace("{loop}", hostile["management_url"])
            for a in argv]
    out = run_cli_inproc(tmp_path, *args)
    assert out.returncode == 2, (out.returncode, out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    assert "http" in out.stderr.lower() and "gateway.example.com" in out.stderr
    config = tmp_path / "config" / "aiconsole" / "config.toml"
    assert not config.exists() or "gateway.example.com" not in config.read_text()


def test_a_profile_file_with_remote_http_is_refused_on_load(tmp_path):
    config = tmp_path / "config" / "aiconsole"
    config.mkdir(parents=True)
    (config / "config.toml").write_text(
        'current = "bad"\n\n[profiles.bad]\nkind = "sandbox"\nurl = "http://sandbox.example.com:8123"\n',
        encoding="utf-8",
    )
    before = (config / "config.toml").read_bytes()
    out = run_cli_inproc(tmp_path, "subs", "list")
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "sandbox.example.com" in out.stderr and "Traceback" not in out.stderr
    assert (config / "config.toml").read_bytes() == before
