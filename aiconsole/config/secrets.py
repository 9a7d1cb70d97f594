"""Where a service principal's client secret lives: the OS keyring, an encrypted file, or the env.

SSH jump hosts usually have no Secret Service, and with keyrings.alt installed the ``keyring``
library would then quietly pick its *plain-text* file backend. We never let that happen:
``keyring_status()`` classifies the backend that would receive a write, and a plain-text or
missing backend is refused with a sentence that names the alternatives:

* ``AICONSOLE_CLIENT_SECRET`` in the environment (read first, never stored);
* ``--encrypted-file``: a keyrings.alt file keyring under the data directory whose entries are
  encrypted with a key derived from a passphrase (scrypt + AES-GCM from ``cryptography``, which
  azure-identity already depends on; keyrings.alt's own ``EncryptedKeyring`` needs PyCryptodome,
  which we do not ship, and it is honoured when a user selects it through
  ``PYTHON_KEYRING_BACKEND``);
* ``--plaintext-file-unencrypted``: only when the user asks for it by that name.

Secrets are returned as ``SecretStr`` and never appear in messages.
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import Any, Callable

from pydantic import SecretStr

from aiconsole.config import paths
from aiconsole.domain.errors import AuthError, ConfigError, UsageError

SERVICE = "aiconsole"
ENV_SECRET = "AICONSOLE_CLIENT_SECRET"
ENV_PASSPHRASE = "AICONSOLE_SECRETS_PASSPHRASE"
ENCRYPTED_FILE = "secrets.enc.cfg"
PLAINTEXT_FILE = "secrets.PLAINTEXT.cfg"
_CHECK_USER = "passphrase-check"
_CHECK_VALUE = "aiconsole passphrase check"

PassphrasePrompt = Callable[[str], str]


def secret_username(profile: str) -> str:
    """The keyring entry name for a profile's client secret."""
    return f"{profile}:client-secret"


# -- the system keyring ------------------------------------------------------------------------


def _backend_name(backend: Any) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def _classify(backend: Any) -> tuple[str, Any]:
    """('secure'|'encrypted'|'plaintext'|'none', the backend that would receive a write)."""
    from keyring.backends import chainer, fail

    if isinstance(backend, chainer.ChainerBackend):
        chained = list(backend.backends)
        if not chained:
            return "none", backend
        return _classify(chained[0])
    if isinstance(backend, fail.Keyring):
        return "none", backend
    name = _backend_name(backend)
    if name.startswith("keyring.backends.null."):
        return "none", backend
    if "Plaintext" in type(backend).__name__ or getattr(backend, "scheme", "") == "no encyption":
        return "plaintext", backend
    if name.startswith("keyrings.alt.file.") and "Encrypted" in type(backend).__name__:
        return "encrypted", backend
    return "secure", backend


def keyring_status() -> dict[str, Any]:
    """What ``info`` shows: the configured backend and whether a secret can go there safely.

    Reads keyring's configuration lazily (importing ``keyring`` costs a few milliseconds; the
    backends it probes are imported only here).
    """
    try:
        import keyring
    except ImportError:  # pragma: no cover - a dependency, but be plain about it
        return {"backend": None, "usable": False, "status": "none",
                "message": "The keyring package is not installed."}
    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # noqa: BLE001 - a broken keyring config must not break `info`
        return {"backend": None, "usable": False, "status": "none",
                "message": f"The keyring could not be loaded ({type(exc).__name__})."}
    status, writer = _classify(backend)
    data: dict[str, Any] = {"backend": _backend_name(backend), "status": status, "usable": status in ("secure", "encrypted")}
    if writer is not backend:
        data["writes_to"] = _backend_name(writer)
    data["message"] = {
        "secure": "Secrets go to the OS keyring.",
        "encrypted": "Secrets go to an encrypted file keyring (asks for its passphrase).",
        "plaintext": "The keyring found is a PLAIN TEXT file; aiconsole will not store secrets there.",
        "none": "No OS keyring is available (usual over SSH).",
    }[status]
    if status in ("plaintext", "none"):
        data["alternatives"] = (
            f"`aiconsole profile secret set NAME --encrypted-file` (passphrase-protected file), "
            f"or the {ENV_SECRET} environment variable"
        )
    return data


# -- file keyrings (keyrings.alt) -------------------------------------------------------------


def secrets_dir() -> Path:
    return paths.data_dir()


def encrypted_keyring(passphrase: str):
    """A keyrings.alt file keyring whose entries are AES-GCM encrypted with a passphrase key."""
    from aiconsole.config.filekeyring import EncryptedFileKeyring

    kr = EncryptedFileKeyring(passphrase)
    kr.file_path = str(paths.ensure_private_dir(secrets_dir()) / ENCRYPTED_FILE)
    return kr


def plaintext_keyring():
    from keyrings.alt.file import PlaintextKeyring

    kr = PlaintextKeyring()
    kr.file_path = str(paths.ensure_private_dir(secrets_dir()) / PLAINTEXT_FILE)
    return kr


def _passphrase(prompt: PassphrasePrompt | None, *, new: bool) -> str:
    value = os.environ.get(ENV_PASSPHRASE)
    if value:
        return value
    if prompt is not None:
        value = prompt("Passphrase for aiconsole's encrypted secrets file: ")
    elif sys.stdin.isatty():
        value = getpass.getpass("Passphrase for aiconsole's encrypted secrets file: ")
        if new and not Path(secrets_dir() / ENCRYPTED_FILE).exists():
            again = getpass.getpass("Type it again: ")
            if again != value:
                raise UsageError("The passphrases do not match; nothing was stored.")
    else:
        raise AuthError(
            "The encrypted secrets file needs its passphrase, and there is no terminal to ask on.",
            f"Set {ENV_PASSPHRASE}, or run the command on a terminal.",
        )
    if not value:
        raise UsageError("An empty passphrase is not allowed.")
    return value


def _open_encrypted(prompt: PassphrasePrompt | None, *, new: bool):
    """Open the encrypted file keyring, checking the passphrase against a reference entry."""
    from aiconsole.config.filekeyring import WrongPassphrase

    kr = encrypted_keyring(_passphrase(prompt, new=new))
    try:
        check = kr.get_password(SERVICE, _CHECK_USER)
    except WrongPassphrase:
        raise AuthError(
            "The passphrase does not open aiconsole's encrypted secrets file.",
            f"Try again, or check {ENV_PASSPHRASE}.",
        ) from None
    if check is None:
        if not new:
            return kr
        kr.set_password(SERVICE, _CHECK_USER, _CHECK_VALUE)
    elif check != _CHECK_VALUE:
        raise AuthError("aiconsole's encrypted secrets file is damaged (its check entry does not match).")
    return kr


# -- the public operations ----------------------------------------------------------------------


def _profile_store(profile: str) -> str:
    from aiconsole.config.profiles import get_profile

    p = get_profile(profile)
    if getattr(p, "kind", None) != "azure":
        raise UsageError(f"Profile '{profile}' is a {p.kind} profile; only azure profiles have a client secret.")
    return p.secret_store


def store_client_secret(profile: str, secret: SecretStr, *, store: str | None = None,
                        prompt: PassphrasePrompt | None = None) -> str:
    """Store ``secret`` for ``profile``; returns where (for the user, no secret in it).

    ``store`` None keeps the profile's current choice. Choosing a store records it in the
    profile (``secret_store``) so reads later look in the same place.
    """
    current = _profile_store(profile)
    store = store or current
    value = secret.get_secret_value()
    if not value:
        raise UsageError("The client secret is empty; nothing was stored.")
    if store == "keyring":
        import keyring

        status, writer = _classify(keyring.get_keyring())
        if status in ("none", "plaintext"):
            what = "no OS keyring is available" if status == "none" else "the only keyring found stores secrets in PLAIN TEXT"
            raise ConfigError(
                f"Cannot store the client secret safely: {what}.",
                f"Use `aiconsole profile secret set {profile} --encrypted-file` (asks for a passphrase), "
                f"or set {ENV_SECRET} in the environment instead.",
            )
        writer.set_password(SERVICE, secret_username(profile), value)
        where = f"the OS keyring ({type(writer).__name__})"
    elif store == "encrypted-file":
        _open_encrypted(prompt, new=True).set_password(SERVICE, secret_username(profile), value)
        where = f"the encrypted file {secrets_dir() / ENCRYPTED_FILE}"
    elif store == "plaintext-file":
        plaintext_keyring().set_password(SERVICE, secret_username(profile), value)
        where = f"the PLAIN TEXT file {secrets_dir() / PLAINTEXT_FILE}"
    else:  # pragma: no cover - argparse and the model restrict it
        raise UsageError(f"Unknown secret store '{store}'.")
    if store != current:
        from aiconsole.config.profiles import set_profile_field

        set_profile_field(profile, "secret_store", store)
    return where


def client_secret(profile: str | None, *, store: str = "keyring", prompt: PassphrasePrompt | None = None) -> SecretStr:
    """The client secret for ``profile``: env first, then the profile's store; AuthError if none."""
    env = os.environ.get(ENV_SECRET)
    if env:
        return SecretStr(env)
    hint = (f"Store it with `aiconsole profile secret set {profile}`, or set {ENV_SECRET}."
            if profile else f"Set {ENV_SECRET}.")
    if not profile:
        raise AuthError("Service-principal sign-in needs a client secret and none was given.", hint)
    value: str | None
    if store == "keyring":
        import keyring
        from keyring.errors import KeyringError

        status, reader = _classify(keyring.get_keyring())
        if status in ("none", "plaintext"):
            kind = "no OS keyring is available on this host" if status == "none" else "the keyring found is a plain-text file"
            raise AuthError(
                f"Service-principal sign-in needs the client secret of '{profile}', but {kind}.",
                f"Set {ENV_SECRET}, or store it with `aiconsole profile secret set {profile} --encrypted-file`.",
            )
        try:
            value = reader.get_password(SERVICE, secret_username(profile))
        except KeyringError as exc:
            raise AuthError(f"The OS keyring could not be read ({type(exc).__name__}).", hint) from None
    elif store == "encrypted-file":
        value = _open_encrypted(prompt, new=False).get_password(SERVICE, secret_username(profile))
    else:
        value = plaintext_keyring().get_password(SERVICE, secret_username(profile))
    if not value:
        raise AuthError(f"No client secret is stored for profile '{profile}' ({store}).", hint)
    return SecretStr(value)


def delete_client_secret(profile: str, *, prompt: PassphrasePrompt | None = None) -> str:
    from keyring.errors import PasswordDeleteError

    store = _profile_store(profile)
    try:
        if store == "keyring":
            import keyring

            status, writer = _classify(keyring.get_keyring())
            if status in ("none", "plaintext"):
                raise ConfigError("No usable OS keyring is available; nothing to delete there.")
            writer.delete_password(SERVICE, secret_username(profile))
        elif store == "encrypted-file":
            _open_encrypted(prompt, new=False).delete_password(SERVICE, secret_username(profile))
        else:
            plaintext_keyring().delete_password(SERVICE, secret_username(profile))
    except PasswordDeleteError:
        raise ConfigError(f"No client secret is stored for profile '{profile}' ({store}).") from None
    return store


def secret_status(profile: str) -> dict[str, Any]:
    """Where a secret would be read from, without reading it."""
    store = _profile_store(profile)
    data: dict[str, Any] = {"profile": profile, "secret_store": store, "env_override": bool(os.environ.get(ENV_SECRET))}
    if store == "keyring":
        data["keyring"] = keyring_status()
    elif store == "encrypted-file":
        data["file"] = str(secrets_dir() / ENCRYPTED_FILE)
    else:
        data["file"] = str(secrets_dir() / PLAINTEXT_FILE)
        data["warning"] = "plain text"
    return data


def read_secret_interactively(*, from_stdin: bool = False) -> SecretStr:
    """Prompt without echo (or read one line of stdin for scripts); never from argv."""
    if from_stdin or not sys.stdin.isatty():
        line = sys.stdin.readline().rstrip("\r\n")
    else:
        line = getpass.getpass("Client secret (input hidden): ")
    if not line:
        raise UsageError("No client secret was given; nothing was stored.")
    return SecretStr(line)
