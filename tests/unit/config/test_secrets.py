"""Client secrets on hosts with and without a keyring: never silently in clear, never in the config.

An in-memory keyring backend stands in for an OS keyring (Secret Service / Keychain) where a
test needs one; everything else uses the real keyring and keyrings.alt backends.
"""

from __future__ import annotations

import base64
import io
import json

import keyring
import keyring.core
import pytest
from keyring.backend import KeyringBackend

from aiconsole.backends.credentials import build_credential
from aiconsole.cli.main import main
from aiconsole.config import paths
from aiconsole.config.profiles import add_profile, connection_for_profile
from aiconsole.config.secrets import ENCRYPTED_FILE, PLAINTEXT_FILE, client_secret, keyring_status
from aiconsole.config.store import load_config
from aiconsole.domain.errors import AuthError

from .fake_aad import FakeEntraID

SECRET = "Zx9~client-secret-value-1234"
B64 = base64.b64encode(SECRET.encode()).decode()
SP = {"kind": "azure", "subscription_id": "00000000-0000-0000-0000-000000000001", "resource_group": "rg",
      "service": "apim", "auth": "service-principal", "tenant_id": "contoso.onmicrosoft.com",
      "client_id": "11111111-2222-3333-4444-555555555555"}


class MemoryKeyring(KeyringBackend):
    """Stands in for an OS keyring."""

    priority = 5

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.store.get((service, username))

    def set_password(self, service, username, password):
        self.store[(service, username)] = password

    def delete_password(self, service, username):
        self.store.pop((service, username))


@pytest.fixture(autouse=True)
def _fresh_keyring(monkeypatch):
    """keyring caches its backend per process; start each test from the environment's choice."""
    monkeypatch.setattr(keyring.core, "_keyring_backend", None)


def _set(capsys, monkeypatch, *flags: str) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(SECRET + "\n"))
    code = main(["profile", "secret", "set", "sp", *flags, "-o", "json"])
    out, err = capsys.readouterr()
    return code, out, err


def _everything_on_disk() -> str:
    """Every file under the test HOME, plus a marker if the secret's base64 form appears."""
    home = paths.config_dir().parent.parent
    text = "\n".join(p.read_text(errors="replace") for p in home.rglob("*") if p.is_file())
    return text + (f"\n{SECRET}" if B64 in text.replace("\n", "").replace("\t", "") else "")


def test_fail_backend_refuses_and_says_what_to_do(capsys, monkeypatch):
    add_profile("sp", SP)
    code, _, err = _set(capsys, monkeypatch)
    assert code == 2
    assert "no OS keyring is available" in err
    assert "--encrypted-file" in err and "AICONSOLE_CLIENT_SECRET" in err
    assert SECRET not in _everything_on_disk()
    status = keyring_status()
    assert status["status"] == "none" and not status["usable"]


def test_plaintext_keyring_is_never_used_silently(capsys, monkeypatch):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    add_profile("sp", SP)
    assert keyring_status()["status"] == "plaintext"
    code, _, err = _set(capsys, monkeypatch)
    assert code == 2 and "PLAIN TEXT" in err
    assert SECRET not in _everything_on_disk()
    with pytest.raises(AuthError, match="plain-text file"):
        client_secret("sp")


def test_os_keyring_stores_and_sign_in_reads_it(capsys, monkeypatch):
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    add_profile("sp", SP)
    code, out, err = _set(capsys, monkeypatch)
    assert code == 0, err
    assert "OS keyring" in json.loads(out)["stored_in"]
    assert backend.store == {("aiconsole", "sp:client-secret"): SECRET}
    assert SECRET not in paths.config_file().read_text()
    aad = FakeEntraID({"appid": SP["client_id"]})
    cred = build_credential(connection_for_profile("sp"), transport=aad)
    cred.get_token("https://management.azure.com/.default")
    assert cred.principal() == f"app:{SP['client_id']}"


def test_env_secret_wins_and_is_not_stored(monkeypatch):
    add_profile("sp", SP)
    monkeypatch.setenv("AICONSOLE_CLIENT_SECRET", "from-env")
    assert client_secret("sp").get_secret_value() == "from-env"
    assert "from-env" not in _everything_on_disk()


def test_encrypted_file_with_passphrase(capsys, monkeypatch):
    monkeypatch.setenv("AICONSOLE_SECRETS_PASSPHRASE", "correct horse battery staple")
    add_profile("sp", SP)
    code, out, err = _set(capsys, monkeypatch, "--encrypted-file")
    assert code == 0, err
    assert load_config().profiles["sp"].secret_store == "encrypted-file"
    stored = paths.data_dir() / ENCRYPTED_FILE
    assert stored.exists() and (stored.stat().st_mode & 0o077) == 0
    assert SECRET not in _everything_on_disk()
    assert client_secret("sp", store="encrypted-file").get_secret_value() == SECRET
    # sign-in finds it through the profile
    cred = build_credential(connection_for_profile("sp"), transport=FakeEntraID({"appid": SP["client_id"]}))
    cred.get_token("https://management.azure.com/.default")
    monkeypatch.setenv("AICONSOLE_SECRETS_PASSPHRASE", "wrong")
    with pytest.raises(AuthError, match="passphrase does not open"):
        client_secret("sp", store="encrypted-file")


def test_encrypted_file_without_passphrase_or_terminal(monkeypatch):
    monkeypatch.delenv("AICONSOLE_SECRETS_PASSPHRASE", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    add_profile("sp", {**SP, "secret_store": "encrypted-file"})
    with pytest.raises(AuthError, match="needs its passphrase"):
        client_secret("sp", store="encrypted-file")


def test_plaintext_only_when_asked_by_name(capsys, monkeypatch):
    add_profile("sp", SP)
    code, out, err = _set(capsys, monkeypatch, "--plaintext-file-unencrypted")
    assert code == 0, err
    assert "PLAIN TEXT" in json.loads(out)["stored_in"]
    assert B64 in (paths.data_dir() / PLAINTEXT_FILE).read_text()  # base64 is not encryption
    assert SECRET not in paths.config_file().read_text()
    assert client_secret("sp", store="plaintext-file").get_secret_value() == SECRET


def test_secret_set_on_a_non_azure_profile(capsys, monkeypatch):
    add_profile("dev", {"kind": "sandbox", "url": "http://127.0.0.1:1"})
    monkeypatch.setattr("sys.stdin", io.StringIO("x\n"))
    assert main(["profile", "secret", "set", "dev"]) == 2
    assert "only azure profiles" in capsys.readouterr().err
