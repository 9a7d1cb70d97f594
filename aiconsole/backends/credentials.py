"""Sign-in: an azure-identity credential per profile mode, with errors people can act on.

Modes (``Connection.auth``):

* ``cli`` — reuse ``az login`` (AzureCliCredential);
* ``device-code`` — a URL and a code shown by a callback (TUI modal, or the CLI's stderr): the
  way to sign in over SSH, where no browser can be opened;
* ``service-principal`` — ClientSecretCredential; the secret comes from ``AICONSOLE_CLIENT_SECRET``
  or the profile's secret store (OS keyring / encrypted file), never from the config file;
* ``managed-identity`` — ManagedIdentityCredential (user-assigned when ``client_id`` is set);
* ``default`` — DefaultAzureCredential.

Every credential is wrapped in ``FriendlyCredential`` so that a failed sign-in surfaces as one
``AuthError`` sentence naming the mode and what to try, whichever layer asked for the token,
and so that the token's claims can name the principal in the audit journal.

Token caches persist where the platform can encrypt them (Keychain, DPAPI, libsecret); on a
headless Linux box without libsecret we fall back to an in-memory cache rather than write tokens
in clear (``allow_unencrypted_storage=False``).

Azure SDK imports happen inside functions: importing this module stays cheap.
"""

from __future__ import annotations

import base64
import functools
import json
import shutil
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from aiconsole.domain.errors import AiconsoleError, AuthError

DeviceCodePrompt = Callable[[str, str, datetime], None]

#: lifetime of the sandbox's static token: far enough that it never needs refreshing
_SANDBOX_TOKEN_LIFETIME = 10 * 365 * 24 * 3600

MODE_NAMES = {
    "cli": "Azure CLI",
    "device-code": "Device-code",
    "service-principal": "Service-principal",
    "managed-identity": "Managed-identity",
    "default": "Default Azure credential",
    "sandbox": "Sandbox",
}

CACHE_NAME = "aiconsole"

#: process-wide defaults, for callers that build credentials without knowing the UI (the
#: adapter calls ``build_credential(connection)``): the TUI installs its modal here at start-up
_default_prompts: dict[str, Any] = {"device_code": None, "secret": None}


def set_default_prompts(*, device_code: DeviceCodePrompt | None = None, secret: Callable[[str], str] | None = None) -> None:
    """Install the UI's device-code prompt and passphrase prompt for every later sign-in.

    The TUI calls this once with callbacks that show a modal (from a worker thread they must
    hand over to the UI thread, e.g. with ``App.call_from_thread``); the CLI leaves the defaults
    (stderr / terminal).
    """
    _default_prompts["device_code"] = device_code
    _default_prompts["secret"] = secret


# -- the sandbox ----------------------------------------------------------------------------------


class SandboxCredential:
    """A static bearer token for the local sandbox (which accepts it); never expires in practice."""

    def __init__(self, token: str | None = None) -> None:
        from aiconsole.backends.connect import SANDBOX_TOKEN

        self._token = token or SANDBOX_TOKEN

    def get_token(self, *scopes: str, **kwargs: Any):
        from azure.core.credentials import AccessToken

        return AccessToken(self._token, int(time.time()) + _SANDBOX_TOKEN_LIFETIME)

    def get_token_info(self, *scopes: str, options: Any = None):
        from azure.core.credentials import AccessTokenInfo

        return AccessTokenInfo(self._token, int(time.time()) + _SANDBOX_TOKEN_LIFETIME)

    def close(self) -> None:
        pass

    def __enter__(self) -> "SandboxCredential":
        return self

    def __exit__(self, *args: Any) -> None:
        pass

    def principal(self) -> str | None:
        return None


# -- principals from token claims -------------------------------------------------------------------


def jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, decoded WITHOUT verifying its signature.

    Only for labelling (who did this, in the audit journal): Azure verified the token; we never
    make a security decision from these claims. Returns {} for anything that is not a JWT.
    """
    parts = (token or "").split(".")
    if len(parts) != 3:
        return {}
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        data = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except (ValueError, UnicodeError):
        return {}
    return data if isinstance(data, dict) else {}


def principal_from_claims(claims: dict[str, Any]) -> str | None:
    """A person's sign-in name, else the application id, else the object id."""
    for key in ("upn", "preferred_username", "unique_name", "email"):
        value = claims.get(key)
        if isinstance(value, str) and value:
            return value
    for key in ("appid", "azp"):
        value = claims.get(key)
        if isinstance(value, str) and value:
            return f"app:{value}"
    oid = claims.get("oid")
    return f"oid:{oid}" if isinstance(oid, str) and oid else None


def principal_of(credential: Any, scope: str | None = None) -> str | None:
    """The principal behind ``credential``, from its last token (or a fresh one for ``scope``)."""
    getter = getattr(credential, "principal", None)
    if callable(getter):
        found = getter()
        if found or scope is None:
            return found
    if scope is None:
        return None
    try:
        token = credential.get_token(scope).token
    except Exception:  # noqa: BLE001 - a label is not worth failing a write over
        return None
    return principal_from_claims(jwt_claims(token))


def principal_for(connection, backend: Any) -> str | None:
    """Who is acting through ``backend``: upn / preferred_username / appid from its token.

    None for the sandbox (the journal then records the local user) or when the backend's
    credential cannot be found or asked.
    """
    if connection.kind == "sandbox":
        return None
    credential = getattr(backend, "credential", None)
    if credential is None:
        config = getattr(getattr(backend, "client", None), "_config", None)
        credential = getattr(config, "credential", None)
    if credential is None:
        return None
    return principal_of(credential, management_scope(connection))


# -- error mapping -----------------------------------------------------------------------------------


def _short(text: str, limit: int = 240) -> str:
    from aiconsole.domain.text import sanitize

    first = " ".join(str(text).split())
    return sanitize(first, max_length=limit)


def sign_in_error(mode: str, exc: BaseException | None = None, *, tenant_id: str | None = None) -> AuthError:
    """One sentence for a failed sign-in in ``mode`` and the next thing to try."""
    name = MODE_NAMES.get(mode, mode)
    detail = _short(getattr(exc, "message", None) or str(exc)) if exc is not None else ""
    if mode == "cli":
        if shutil.which("az") is None:
            return AuthError(
                "Azure CLI sign-in failed: `az` is not installed (not found on PATH).",
                "Install the Azure CLI and run `az login`, or use --auth device-code over SSH.",
            )
        if "az login" in detail or "AADSTS70043" in detail or "expired" in detail.lower():
            return AuthError(
                "Azure CLI sign-in failed: you are not signed in, or the sign-in expired.",
                "Run `az login` (`az login --use-device-code` over SSH), or use --auth device-code.",
            )
        return AuthError(f"Azure CLI sign-in failed: {detail}", "Run `az login` again, or use --auth device-code.")
    if mode == "device-code":
        return AuthError(
            f"Device-code sign-in failed: {detail}",
            "Open the URL shown and enter the code before it expires"
            + (f"; check that tenant {tenant_id} is right." if tenant_id else "; add --tenant-id if your account is in another tenant."),
        )
    if mode == "service-principal":
        return AuthError(
            f"Service-principal sign-in failed: {detail}",
            "Check the profile's client_id and tenant_id and the stored secret "
            "(`aiconsole profile secret set NAME`, or AICONSOLE_CLIENT_SECRET).",
        )
    if mode == "managed-identity":
        return AuthError(
            f"Managed-identity sign-in failed: {detail}",
            "This works only on an Azure host with a managed identity assigned (set client_id for a "
            "user-assigned one); elsewhere use --auth cli or device-code.",
        )
    if mode == "default":
        return AuthError(
            "No sign-in method of DefaultAzureCredential worked.",
            "Run `az login`, set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET, or pick a mode "
            "with --auth (device-code works over SSH).",
        )
    return AuthError(f"{name} sign-in failed: {detail}")


def map_azure_error(exc: BaseException, *, what: str, action: str | None = None) -> AiconsoleError:
    """A small mapping for calls made here (``profile discover``); the adapter has the full one."""
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ResourceNotFoundError,
        ServiceRequestError,
        ServiceResponseError,
    )

    from aiconsole.domain.errors import ConnectionFailedError, NotFoundError, ServerError

    if isinstance(exc, AiconsoleError):
        return exc
    status = getattr(exc, "status_code", None)
    request_id = None
    response = getattr(exc, "response", None)
    if response is not None:
        request_id = response.headers.get("x-ms-request-id") or response.headers.get("x-ms-correlation-request-id")
    if isinstance(exc, ResourceNotFoundError) or status == 404:
        return NotFoundError(f"Could not {what}: not found.", "Check the subscription id.", request_id=request_id)
    if status in (401, 403) or (isinstance(exc, ClientAuthenticationError) and status is None):
        return AuthError(
            f"Could not {what}: the signed-in principal is not allowed.",
            f"It needs the RBAC action {action}." if action else "Check the principal's role assignments.",
            action=action,
            request_id=request_id,
        )
    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        return ConnectionFailedError(f"Could not {what}: the management endpoint could not be reached.")
    if isinstance(exc, HttpResponseError):
        return ServerError(f"Could not {what}: the server answered {status}.", request_id=request_id)
    return ServerError(f"Could not {what} ({type(exc).__name__}).")


# -- the wrapper ------------------------------------------------------------------------------------


class FriendlyCredential:
    """Wraps an azure-identity credential: AuthError on failure, principal from the token.

    Implements both ``get_token`` (TokenCredential) and ``get_token_info`` (SupportsTokenInfo),
    delegating to whichever the inner credential has.
    """

    def __init__(self, inner: Any, mode: str, *, tenant_id: str | None = None,
                 before_first_token: Callable[[Any, tuple[str, ...]], None] | None = None) -> None:
        self.inner = inner
        self.mode = mode
        self.tenant_id = tenant_id
        self._before_first_token = before_first_token
        self._last_token: str | None = None

    def _call(self, method: str, scopes: tuple[str, ...], **kwargs: Any):
        from azure.core.exceptions import ClientAuthenticationError

        try:
            if self._before_first_token is not None:
                hook, self._before_first_token = self._before_first_token, None
                hook(self.inner, scopes)
            result = getattr(self.inner, method)(*scopes, **kwargs)
        except AiconsoleError:
            raise
        except ClientAuthenticationError as exc:  # includes CredentialUnavailableError
            raise sign_in_error(self.mode, exc, tenant_id=self.tenant_id) from None
        except ValueError as exc:  # azure-identity raises ValueError for bad tenant ids, cache problems
            raise sign_in_error(self.mode, exc, tenant_id=self.tenant_id) from None
        self._last_token = result.token
        return result

    def get_token(self, *scopes: str, **kwargs: Any):
        return self._call("get_token", scopes, **kwargs)

    def get_token_info(self, *scopes: str, options: Any = None):
        if not hasattr(self.inner, "get_token_info"):
            return self._call("get_token", scopes)
        return self._call("get_token_info", scopes, options=options)

    def principal(self) -> str | None:
        return principal_from_claims(jwt_claims(self._last_token)) if self._last_token else None

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()

    def __enter__(self) -> "FriendlyCredential":
        return self

    def __exit__(self, *args: Any) -> None:
        self.close()


# -- token cache persistence ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def cache_persistence() -> tuple[Any | None, str]:
    """(TokenCachePersistenceOptions or None, a sentence saying which) for this host.

    Probed once per process: on Linux the encrypted cache needs libsecret and a session bus,
    which SSH sessions usually lack; we then keep tokens in memory rather than in clear.
    """
    from azure.identity import TokenCachePersistenceOptions

    options = TokenCachePersistenceOptions(name=CACHE_NAME, allow_unencrypted_storage=False)
    try:
        from azure.identity._persistent_cache import _load_persistent_cache  # probe only

        _load_persistent_cache(options)
    except Exception as exc:  # noqa: BLE001 - any failure means "not here"
        return None, f"Tokens are cached in memory only: no encrypted token cache on this host ({type(exc).__name__})."
    return options, "Tokens are cached in the platform's encrypted store."


def _auth_record_path(connection) -> Any:
    from aiconsole.config import paths

    key = connection.profile or f"{connection.tenant_id or 'organizations'}"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in key)
    return paths.cache_dir() / f"auth-record-{safe}.json"


def _load_auth_record(connection):
    from azure.identity import AuthenticationRecord

    path = _auth_record_path(connection)
    try:
        return AuthenticationRecord.deserialize(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError):
        return None


def _save_auth_record(connection, record) -> None:
    """The record names the account (no secret); with it a persisted cache is reused next run."""
    from aiconsole.config import paths

    path = _auth_record_path(connection)
    try:
        paths.ensure_private_dir(path.parent)
        path.write_text(record.serialize(), encoding="utf-8")
        path.chmod(0o600)
    except OSError:
        pass


def cli_device_code_prompt(verification_uri: str, user_code: str, expires_on: datetime) -> None:
    """The CLI's device-code prompt: on stderr, so ``-o json`` output stays clean."""
    from aiconsole.domain.text import sanitize

    when = expires_on.astimezone(timezone.utc).strftime("%H:%M UTC") if expires_on else "soon"
    sys.stderr.write(
        f"To sign in, open {sanitize(verification_uri)} in any browser and enter the code "
        f"{sanitize(user_code)} (expires {when}).\n"
    )
    sys.stderr.flush()


# -- building ------------------------------------------------------------------------------------------


def management_scope(connection) -> str:
    return connection.management_url.rstrip("/") + "/.default"


def build_credential(connection, *, device_code_prompt: DeviceCodePrompt | None = None, secret_prompt=None,
                     **identity_options: Any):
    """A TokenCredential for ``connection`` according to its sign-in mode.

    ``device_code_prompt(verification_uri, user_code, expires_on)`` is called when device-code
    sign-in needs the user (the TUI shows a modal; default: print to stderr).
    ``secret_prompt(text) -> str`` asks for the encrypted secrets file's passphrase when the
    service principal's secret is kept there (default: the terminal, or the environment).
    ``identity_options`` go to the azure-identity constructor unchanged (e.g. ``transport`` or
    proxy settings). Raises AuthError for an unknown mode or a missing secret; sign-in failures
    surface as AuthError when the first token is requested.
    """
    if connection.kind == "sandbox":
        return SandboxCredential()
    device_code_prompt = device_code_prompt or _default_prompts["device_code"]
    secret_prompt = secret_prompt or _default_prompts["secret"]
    mode = connection.auth or "default"
    tenant = connection.tenant_id
    persistence, _ = cache_persistence()
    cache_kw: dict[str, Any] = {"cache_persistence_options": persistence} if persistence is not None else {}
    cache_kw.update(identity_options)
    try:
        import azure.identity as identity

        if mode == "cli":
            return FriendlyCredential(identity.AzureCliCredential(tenant_id=tenant or ""), mode, tenant_id=tenant)
        if mode == "device-code":
            record = _load_auth_record(connection) if persistence is not None else None
            kw: dict[str, Any] = dict(cache_kw)
            if connection.client_id:
                kw["client_id"] = connection.client_id
            if record is not None:
                kw["authentication_record"] = record
            inner = identity.DeviceCodeCredential(
                tenant_id=tenant or "organizations",
                prompt_callback=device_code_prompt or cli_device_code_prompt,
                **kw,
            )
            hook = None
            if persistence is not None and record is None:
                def hook(cred, scopes):  # first sign-in: keep the record so the cache is reused next run
                    _save_auth_record(connection, cred.authenticate(scopes=list(scopes)))
            return FriendlyCredential(inner, mode, tenant_id=tenant, before_first_token=hook)
        if mode == "service-principal":
            from aiconsole.config.secrets import client_secret

            if not (tenant and connection.client_id):
                raise AuthError(
                    "Service-principal sign-in needs a tenant id and a client id.",
                    "Add them to the profile: --tenant-id T --client-id ID.",
                )
            store = (connection.extra or {}).get("secret_store", "keyring")
            secret = client_secret(connection.profile, store=store, prompt=secret_prompt)
            inner = identity.ClientSecretCredential(tenant, connection.client_id, secret.get_secret_value(), **cache_kw)
            return FriendlyCredential(inner, mode, tenant_id=tenant)
        if mode == "managed-identity":
            kw = {"client_id": connection.client_id} if connection.client_id else {}
            kw.update(identity_options)
            return FriendlyCredential(identity.ManagedIdentityCredential(**kw), mode, tenant_id=tenant)
        if mode == "default":
            kw = {"managed_identity_client_id": connection.client_id} if connection.client_id else {}
            kw.update(identity_options)
            if tenant:
                kw["shared_cache_tenant_id"] = tenant
            return FriendlyCredential(identity.DefaultAzureCredential(**kw), mode, tenant_id=tenant)
    except AiconsoleError:
        raise
    except ValueError as exc:  # e.g. an invalid tenant id
        raise sign_in_error(mode, exc, tenant_id=tenant) from None
    raise AuthError(
        f"Unknown sign-in mode '{mode}'.",
        "Use one of: cli, device-code, service-principal, managed-identity, default.",
    )
