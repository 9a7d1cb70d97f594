"""Sign-in modes, exercised with azure-identity's real credential classes up to where Azure is needed.

There is no Azure here. What needs the network is replaced, and only that:
* Entra ID's HTTP endpoints by ``FakeEntraID``, an azure-core transport handed to the real
  credential (MSAL's device-code and client-credential flows run unmodified against it);
* the ``az`` executable by a small script on PATH (or by a PATH without ``az`` at all).
"""

from __future__ import annotations

import json
import os
import stat
import sys
from datetime import datetime

import pytest

from aiconsole.backends.connect import Connection
from aiconsole.backends.credentials import (
    FriendlyCredential,
    SandboxCredential,
    build_credential,
    cache_persistence,
    jwt_claims,
    principal_from_claims,
    principal_of,
)
from aiconsole.domain.errors import AuthError

from .fake_aad import FakeEntraID, jwt

SCOPE = "https://management.azure.com/.default"


def azure(auth: str, **kw) -> Connection:
    return Connection(kind="azure", management_url="https://management.azure.com", subscription_id="sub",
                      resource_group="rg", service_name="apim", label="t", profile=kw.pop("profile", "prod"),
                      auth=auth, **kw)


@pytest.fixture
def no_az_path(tmp_path, monkeypatch):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    return empty


def _fake_az(directory, script_body: str) -> None:
    az = directory / "az"
    az.write_text(f"#!{sys.executable}\nimport sys, json\n{script_body}\n")
    az.chmod(az.stat().st_mode | stat.S_IEXEC)


def test_sandbox_credential_is_static_and_far_in_the_future():
    cred = build_credential(Connection(kind="sandbox", management_url="http://127.0.0.1:1", subscription_id="s",
                                       resource_group="r", service_name="n", label="l"))
    assert isinstance(cred, SandboxCredential)
    token = cred.get_token(SCOPE)
    assert token.token == "sandbox-token"
    assert token.expires_on > datetime.now().timestamp() + 5 * 365 * 24 * 3600
    assert cred.get_token_info(SCOPE).token == "sandbox-token"


def test_cli_without_az_on_path_says_so(no_az_path):
    cred = build_credential(azure("cli"))
    with pytest.raises(AuthError) as err:
        cred.get_token(SCOPE)
    assert err.value.message == "Azure CLI sign-in failed: `az` is not installed (not found on PATH)."
    assert "az login" in err.value.hint and "device-code" in err.value.hint


def test_cli_signed_out_says_run_az_login(no_az_path):
    _fake_az(no_az_path, "sys.stderr.write(\"ERROR: Please run 'az login' to setup account.\\n\"); sys.exit(1)")
    with pytest.raises(AuthError) as err:
        build_credential(azure("cli")).get_token(SCOPE)
    assert "not signed in" in err.value.message and "az login" in err.value.hint


def test_cli_token_names_the_principal(no_az_path):
    token = jwt({"upn": "oncall@contoso.com", "oid": "o"})
    _fake_az(no_az_path, "print(json.dumps({'accessToken': %r, 'expiresOn': '2099-01-01 00:00:00.000000', "
                         "'expires_on': 4070908800, 'subscription': 's', 'tenant': 't', 'tokenType': 'Bearer'}))" % token)
    cred = build_credential(azure("cli"))
    assert cred.get_token(SCOPE).token == token
    assert cred.principal() == "oncall@contoso.com"
    assert principal_of(cred) == "oncall@contoso.com"


def test_device_code_prompt_gets_url_code_and_expiry():
    seen = []
    aad = FakeEntraID({"upn": "night@contoso.com"})
    cred = build_credential(azure("device-code", tenant_id="contoso.onmicrosoft.com"),
                            device_code_prompt=lambda uri, code, expires: seen.append((uri, code, expires)),
                            transport=aad)
    token = cred.get_token(SCOPE)
    assert seen and seen[0][0] == "https://microsoft.com/devicelogin" and seen[0][1] == "ABCD-EFGH"
    assert isinstance(seen[0][2], datetime) and seen[0][2].tzinfo is not None
    assert principal_from_claims(jwt_claims(token.token)) == "night@contoso.com"
    assert cred.principal() == "night@contoso.com"
    assert any(path.endswith("/contoso.onmicrosoft.com/oauth2/v2.0/devicecode") for _, path in aad.seen)


def test_device_code_default_prompt_goes_to_stderr(capsys):
    cred = build_credential(azure("device-code"), transport=FakeEntraID())
    cred.get_token(SCOPE)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "https://microsoft.com/devicelogin" in captured.err and "ABCD-EFGH" in captured.err


def test_device_code_failure_names_the_mode():
    cred = build_credential(azure("device-code"), device_code_prompt=lambda *a: None,
                            transport=FakeEntraID(token_error="AADSTS70016: pending... then expired"))
    with pytest.raises(AuthError) as err:
        cred.get_token(SCOPE)
    assert err.value.message.startswith("Device-code sign-in failed:")


def test_service_principal_secret_from_env_never_in_errors(monkeypatch):
    monkeypatch.setenv("AICONSOLE_CLIENT_SECRET", "s3cr3t-value-xyz")
    conn = azure("service-principal", tenant_id="contoso.onmicrosoft.com", client_id="11111111-2222-3333-4444-555555555555")
    ok = build_credential(conn, transport=FakeEntraID({"appid": "11111111-2222-3333-4444-555555555555"}))
    ok.get_token(SCOPE)
    assert ok.principal() == "app:11111111-2222-3333-4444-555555555555"
    bad = build_credential(conn, transport=FakeEntraID(token_error="AADSTS7000215: Invalid client secret provided."))
    with pytest.raises(AuthError) as err:
        bad.get_token(SCOPE)
    assert err.value.message.startswith("Service-principal sign-in failed: ")
    assert "AADSTS7000215" in err.value.message
    assert "s3cr3t" not in err.value.message + err.value.hint


def test_service_principal_without_any_secret_explains_the_headless_keyring():
    conn = azure("service-principal", tenant_id="contoso.onmicrosoft.com", client_id="abc")
    with pytest.raises(AuthError) as err:
        build_credential(conn)
    assert "no OS keyring is available" in err.value.message
    assert "AICONSOLE_CLIENT_SECRET" in err.value.hint and "--encrypted-file" in err.value.hint


def test_service_principal_needs_ids():
    with pytest.raises(AuthError, match="tenant id and a client id"):
        build_credential(azure("service-principal"))


def test_managed_identity_off_azure_names_the_mode(monkeypatch):
    for var in ("IDENTITY_ENDPOINT", "MSI_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT",
                "AZURE_FEDERATED_TOKEN_FILE", "AZURE_POD_IDENTITY_AUTHORITY_HOST"):
        monkeypatch.delenv(var, raising=False)
    cred = build_credential(azure("managed-identity"), transport=FakeEntraID(imds_down=True), retry_total=0)
    with pytest.raises(AuthError) as err:
        cred.get_token(SCOPE)
    assert err.value.message.startswith("Managed-identity sign-in failed")
    assert "Azure host" in err.value.hint


def test_default_with_nothing_available(no_az_path, monkeypatch):
    for var in list(os.environ):
        if var.startswith(("AZURE_", "IDENTITY_", "MSI_")):
            monkeypatch.delenv(var)
    cred = build_credential(azure("default"), transport=FakeEntraID(imds_down=True))
    with pytest.raises(AuthError) as err:
        cred.get_token(SCOPE)
    assert "DefaultAzureCredential" in err.value.message and "az login" in err.value.hint


def test_unknown_mode():
    with pytest.raises(AuthError, match="Unknown sign-in mode 'kerberos'"):
        build_credential(azure("kerberos"))


def test_token_cache_never_falls_back_to_clear_text():
    options, sentence = cache_persistence()
    if options is None:
        assert "memory" in sentence  # e.g. Linux without libsecret: no plain-text cache file
    else:
        assert options.allow_unencrypted_storage is False


def test_jwt_helpers_are_tolerant():
    assert jwt_claims("not-a-jwt") == {} and jwt_claims("a.!!!.c") == {}
    assert principal_from_claims({"preferred_username": "p@x"}) == "p@x"
    assert principal_from_claims({"oid": "o1"}) == "oid:o1"
    assert principal_from_claims({}) is None
    assert principal_of(SandboxCredential()) is None


def test_wrapper_delegates_get_token_info():
    class Inner:
        def get_token(self, *scopes, **kw):
            raise AssertionError("get_token_info should be preferred")

        def get_token_info(self, *scopes, options=None):
            from azure.core.credentials import AccessTokenInfo

            return AccessTokenInfo(jwt({"upn": "u@x"}), 1)

    wrapped = FriendlyCredential(Inner(), "cli")
    assert wrapped.get_token_info(SCOPE).token and wrapped.principal() == "u@x"


def test_ui_installed_device_code_prompt_is_used_by_default():
    """The TUI installs its modal once; the adapter's ``build_credential(connection)`` then uses it."""
    from aiconsole.backends.credentials import set_default_prompts

    shown = []
    set_default_prompts(device_code=lambda uri, code, expires: shown.append(code))
    try:
        build_credential(azure("device-code"), transport=FakeEntraID()).get_token(SCOPE)
    finally:
        set_default_prompts()
    assert shown == ["ABCD-EFGH"]


def test_expiring_device_code_token_prompts_again_mid_session():
    """No refresh token and a token about to expire: the next call signs in again through the
    same prompt (the TUI's modal) instead of failing the operation."""
    shown = []
    aad = FakeEntraID(expires_in=30)  # inside azure-identity's refresh window
    cred = build_credential(azure("device-code"), device_code_prompt=lambda u, c, e: shown.append(c), transport=aad)
    cred.get_token(SCOPE)
    cred.get_token(SCOPE)
    assert len(shown) == 2
