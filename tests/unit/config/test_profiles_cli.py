"""``aiconsole profile ...`` and which profile is in effect: flag > AICONSOLE_PROFILE > current."""

from __future__ import annotations

import json

import pytest

from aiconsole.backends.connect import resolve_connection
from aiconsole.cli.main import main
from aiconsole.config import paths
from aiconsole.config.profiles import connection_for_profile
from aiconsole.domain.errors import ConfigError


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _azure(capsys, name: str, *extra: str) -> None:
    code, _, err = run(
        capsys, "-o", "json", "profile", "add", name, "--azure", "--subscription-id", "00000000-0000-0000-0000-00000000000a",
        "--resource-group", "rg-" + name, "--service", "apim-" + name, *extra,
    )
    assert code == 0, err


def test_add_list_show_use_remove(capsys):
    _azure(capsys, "prod", "--tenant-id", "contoso.onmicrosoft.com", "--production")
    code, out, err = run(capsys, "profile", "add", "edge", "--self-hosted", "--gateway", "gw-1", "--of", "prod",
                         "--node", "https://n1.example.com", "--node", "https://n2.example.com",
                         "--metrics", "https://prom.example.com", "-o", "json")
    assert code == 0, err
    code, out, _ = run(capsys, "profile", "list", "-o", "json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["prod"]["current"] and rows["prod"]["production"] and rows["prod"]["kind"] == "azure"
    assert rows["edge"]["target"] == "gateway gw-1 of prod"
    code, out, _ = run(capsys, "profile", "show", "edge", "-o", "json")
    shown = json.loads(out)
    assert shown["nodes"] == ["https://n1.example.com", "https://n2.example.com"] and shown["of"] == "prod"
    code, out, _ = run(capsys, "profile", "use", "edge", "-o", "json")
    assert json.loads(out) == {"current": "edge"}
    code, out, err = run(capsys, "profile", "remove", "prod")
    assert code == 2 and "used by edge" in err
    assert run(capsys, "profile", "remove", "edge")[0] == 0
    assert run(capsys, "profile", "remove", "prod")[0] == 0
    assert json.loads(run(capsys, "profile", "list", "-o", "json")[1]) == []


def test_add_rejects_mixed_kinds_and_missing_fields(capsys):
    code, _, err = run(capsys, "profile", "add", "x", "--azure", "--subscription-id", "s")
    assert code == 2 and "--resource-group" in err and "--service" in err
    code, _, err = run(capsys, "profile", "add", "x", "--sandbox", "http://127.0.0.1:1", "--gateway", "g")
    assert code == 2 and "do not apply" in err
    code, _, err = run(capsys, "profile", "add", "bad/name", "--sandbox", "http://127.0.0.1:1")
    assert code == 2 and "not a valid profile name" in err
    assert not paths.config_file().exists()


def test_unknown_profile_is_a_clear_error(capsys):
    _azure(capsys, "prod")
    code, _, err = run(capsys, "--profile", "prdo", "profile", "show")
    assert code == 2
    assert "no profile named 'prdo'" in err and "known: prod" in err
    with pytest.raises(ConfigError, match="prdo"):
        resolve_connection(profile="prdo")


def test_precedence_flag_over_env_over_current(capsys, monkeypatch):
    for name in ("filep", "envp", "flagp"):
        _azure(capsys, name)
    assert run(capsys, "profile", "use", "filep")[0] == 0
    show = lambda *a: json.loads(run(capsys, *a, "profile", "show", "-o", "json")[1])["name"]  # noqa: E731
    assert show() == "filep"
    monkeypatch.setenv("AICONSOLE_PROFILE", "envp")
    assert show() == "envp"
    assert show("--profile", "flagp") == "flagp"
    # and the connection follows the same choice
    assert connection_for_profile(None).profile == "envp"
    assert connection_for_profile("flagp").profile == "flagp"
    monkeypatch.delenv("AICONSOLE_PROFILE")
    assert connection_for_profile(None).profile == "filep"
    assert resolve_connection(profile="envp").service_name == "apim-envp"


def test_no_profile_configured_means_no_connection():
    assert connection_for_profile(None) is None
    with pytest.raises(ConfigError, match="No connection"):
        resolve_connection()


def test_azure_connection_fields(capsys):
    _azure(capsys, "prod", "--tenant-id", "11111111-2222-3333-4444-555555555555", "--auth", "device-code",
           "--read-only", "--app-insights", "/subscriptions/x/resourceGroups/y/providers/microsoft.insights/components/ai")
    conn = connection_for_profile("prod")
    assert conn.kind == "azure" and conn.management_url == "https://management.azure.com"
    assert conn.subscription_id == "00000000-0000-0000-0000-00000000000a"
    assert (conn.resource_group, conn.service_name, conn.profile) == ("rg-prod", "apim-prod", "prod")
    assert conn.auth == "device-code" and conn.tenant_id == "11111111-2222-3333-4444-555555555555"
    assert conn.read_only and not conn.production
    assert conn.extra["app_insights_resource_id"].endswith("/components/ai")


def test_self_hosted_connection_inherits_and_adds_guards(capsys):
    _azure(capsys, "prod", "--production")
    assert run(capsys, "profile", "add", "edge", "--self-hosted", "--gateway", "gw-1", "--of", "prod",
               "--read-only", "--metrics", "https://prom.example.com")[0] == 0
    conn = connection_for_profile("edge")
    assert conn.profile == "edge" and conn.kind == "azure" and conn.service_name == "apim-prod"
    assert conn.read_only and conn.production  # own read_only + parent's production
    assert conn.extra["gateway"] == "gw-1" and conn.extra["metrics_url"] == "https://prom.example.com"
    assert conn.extra["profile_kind"] == "self-hosted"


def test_sandbox_profile_that_is_not_running_says_so(capsys):
    assert run(capsys, "profile", "add", "dev", "--sandbox", "http://127.0.0.1:9")[0] == 0
    code, _, err = run(capsys, "--profile", "dev", "subs", "list")
    assert code == 1 and "No sandbox answers at http://127.0.0.1:9" in err


def test_info_reports_profiles_and_keyring(capsys):
    _azure(capsys, "prod")
    data = json.loads(run(capsys, "info", "-o", "json")[1])
    assert data["profiles"]["current"] == "prod"
    assert data["keyring"]["status"] == "none" and not data["keyring"]["usable"]
    assert "encrypted-file" in data["keyring"]["alternatives"]
    paths.config_file().write_text("[profiles\n")
    data = json.loads(run(capsys, "info", "-o", "json")[1])
    assert "line 1" in data["profiles"]["error"]


def test_profile_summaries_for_a_picker(capsys, monkeypatch):
    from aiconsole.config.profiles import profile_summaries

    _azure(capsys, "a")
    _azure(capsys, "b")
    monkeypatch.setenv("AICONSOLE_PROFILE", "b")
    rows = {r["name"]: r for r in profile_summaries()}
    assert rows["a"]["current"] and not rows["a"]["in_effect"]
    assert rows["b"]["in_effect"] and not rows["b"]["current"]
