"""The typed shape of ``config.toml``: profiles, the current profile, keymap and theme.

Validation lives here (not in the CLI) so that the TUI, the CLI and scripts all reject the same
mistakes with the same words. Identifiers end up in ARM URL paths, so they are restricted to the
characters Azure allows: a profile can never smuggle ``/`` or ``..`` into a request path.
Secrets are not part of this model on purpose; a secret-looking key in a profile is an error
(see ``store.py``), so nobody is tempted to paste a client secret into the file.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from aiconsole.backends.urls import check_url
from aiconsole.domain.errors import AiconsoleError

AUTH_MODES = ("cli", "device-code", "service-principal", "managed-identity", "default")
AuthMode = Literal["cli", "device-code", "service-principal", "managed-identity", "default"]
SECRET_STORES = ("keyring", "encrypted-file", "plaintext-file")
SecretStore = Literal["keyring", "encrypted-file", "plaintext-file"]
KINDS = ("azure", "self-hosted", "sandbox")

AZURE_MANAGEMENT_URL = "https://management.azure.com"

PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_SUBSCRIPTION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")
_RESOURCE_GROUP = re.compile(r"^[-\w.()]{0,89}[-\w()]$")
_SERVICE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,49}$")
_GATEWAY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$")  # a GUID or a domain name
_CLIENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")


def valid_profile_name(name: str) -> bool:
    return bool(PROFILE_NAME.match(name or ""))


def _match(pattern: re.Pattern[str], value: str, what: str) -> str:
    if not pattern.match(value):
        raise ValueError(f"'{value}' is not a valid {what}")
    return value


def _url(value: str, what: str) -> str:
    try:
        return check_url(value, what=what)
    except AiconsoleError as exc:
        raise ValueError(exc.message) from None


class Price(BaseModel):
    """Price per 1,000 tokens for one product, in the user's currency (for usage reports)."""

    model_config = ConfigDict(extra="forbid")
    prompt: float = Field(default=0.0, ge=0)
    completion: float = Field(default=0.0, ge=0)


class _ProfileBase(BaseModel):
    model_config = ConfigDict(extra="forbid")
    read_only: bool = False
    production: bool = False
    description: str | None = None


class AzureProfile(_ProfileBase):
    """One APIM instance in Azure, reached through ARM with an azure-identity credential."""

    kind: Literal["azure"] = "azure"
    tenant_id: str | None = None
    subscription_id: str
    resource_group: str
    service: str
    auth: AuthMode = "cli"
    client_id: str | None = None
    #: ARM endpoint; only sovereign clouds change it (e.g. https://management.usgovcloudapi.net)
    management_url: str = AZURE_MANAGEMENT_URL
    app_insights_resource_id: str | None = None
    log_analytics_workspace_id: str | None = None
    #: where the service principal's client secret lives (never in this file)
    secret_store: SecretStore = "keyring"
    prices: dict[str, Price] = Field(default_factory=dict)

    @field_validator("subscription_id")
    @classmethod
    def _sub(cls, v: str) -> str:
        return _match(_SUBSCRIPTION_ID, v, "Azure subscription id")

    @field_validator("resource_group")
    @classmethod
    def _rg(cls, v: str) -> str:
        return _match(_RESOURCE_GROUP, v, "resource group name")

    @field_validator("service")
    @classmethod
    def _svc(cls, v: str) -> str:
        return _match(_SERVICE, v, "API Management service name")

    @field_validator("tenant_id")
    @classmethod
    def _tenant(cls, v: str | None) -> str | None:
        return None if v is None else _match(_TENANT, v, "tenant id")

    @field_validator("client_id")
    @classmethod
    def _client(cls, v: str | None) -> str | None:
        return None if v is None else _match(_CLIENT_ID, v, "client id")

    @field_validator("management_url")
    @classmethod
    def _mgmt(cls, v: str) -> str:
        return _url(v, "management URL")

    @model_validator(mode="after")
    def _sp_needs_ids(self) -> "AzureProfile":
        if self.auth == "service-principal" and not (self.client_id and self.tenant_id):
            raise ValueError("service-principal sign-in needs client_id and tenant_id (--client-id, --tenant-id)")
        return self


class SelfHostedProfile(_ProfileBase):
    """A self-hosted gateway managed through another (azure or sandbox) profile's instance."""

    kind: Literal["self-hosted"] = "self-hosted"
    gateway: str
    of: str
    nodes: list[str] = Field(default_factory=list)
    metrics_url: str | None = None

    @field_validator("gateway")
    @classmethod
    def _gw(cls, v: str) -> str:
        return _match(_GATEWAY, v, "gateway id")

    @field_validator("of")
    @classmethod
    def _of(cls, v: str) -> str:
        return _match(PROFILE_NAME, v, "profile name")

    @field_validator("nodes")
    @classmethod
    def _nodes(cls, v: list[str]) -> list[str]:
        return [_url(u, "gateway node URL") for u in v]

    @field_validator("metrics_url")
    @classmethod
    def _metrics(cls, v: str | None) -> str | None:
        return None if v is None else _url(v, "metrics URL")


class SandboxProfile(_ProfileBase):
    """A running ``aiconsole sandbox``, by its management URL."""

    kind: Literal["sandbox"] = "sandbox"
    url: str

    @field_validator("url")
    @classmethod
    def _u(cls, v: str) -> str:
        return _url(v, "sandbox URL")


Profile = Annotated[Union[AzureProfile, SelfHostedProfile, SandboxProfile], Field(discriminator="kind")]


class Config(BaseModel):
    """The whole file. Unknown top-level keys are errors so that typos do not silently do nothing."""

    model_config = ConfigDict(extra="forbid")
    current: str | None = None
    theme: str | None = None
    #: binding id -> key, e.g. ``"app.quit" = "q"``; the TUI validates ids against its bindings
    keymap: dict[str, str] = Field(default_factory=dict)
    profiles: dict[str, Profile] = Field(default_factory=dict)

    @field_validator("profiles")
    @classmethod
    def _names(cls, v: dict[str, Profile]) -> dict[str, Profile]:
        for name in v:
            if not valid_profile_name(name):
                raise ValueError(f"'{name}' is not a valid profile name (letters, digits, '.', '_', '-')")
        return v


def reference_problems(config: Config) -> list[tuple[tuple[str, ...], str]]:
    """Cross-references a field validator cannot see: ``current`` and self-hosted ``of``.

    Returned as (key path, message) so the store can point at the line in the file.
    """
    problems: list[tuple[tuple[str, ...], str]] = []
    if config.current is not None and config.current not in config.profiles:
        problems.append((("current",), f"current = '{config.current}' names no profile"))
    for name, profile in config.profiles.items():
        if isinstance(profile, SelfHostedProfile):
            parent = config.profiles.get(profile.of)
            if parent is None:
                problems.append((("profiles", name, "of"), f"profile '{name}' is `of` '{profile.of}', which does not exist"))
            elif isinstance(parent, SelfHostedProfile):
                problems.append(
                    (("profiles", name, "of"), f"profile '{name}' is `of` '{profile.of}', which is not an azure or sandbox profile")
                )
    return problems
