"""Profiles: naming one, turning it into a ``Connection``, and adding/removing/choosing them.

Precedence for which profile is used: ``--profile`` > ``AICONSOLE_PROFILE`` > the file's
``current``. The first two are folded into ``args.profile`` by the CLI's global option, so
functions here take one optional name and fall back to ``current``.

The TUI's ``:ctx`` switch calls ``profile_names()`` / ``connection_for_profile(name)`` and, when
the user wants the choice to stick, ``use_profile(name)``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from aiconsole.config.model import (
    AzureProfile,
    Config,
    SandboxProfile,
    SelfHostedProfile,
    valid_profile_name,
)
from aiconsole.config.store import edit_config, load_config
from aiconsole.domain.errors import ConfigError, UsageError


def _unknown(name: str, config: Config) -> ConfigError:
    known = ", ".join(sorted(config.profiles)) or "none yet"
    return ConfigError(
        f"There is no profile named '{name}' (known: {known}).",
        "List them with `aiconsole profile list`; add one with `aiconsole profile add`.",
    )


def profile_names(path: Path | None = None) -> list[str]:
    return sorted(load_config(path).profiles)


def profile_summaries(path: Path | None = None) -> list[dict[str, Any]]:
    """One row per profile for pickers (the TUI's ``:ctx``): name, kind, target, flags, current."""
    config = load_config(path)
    in_effect = current_profile_name(None, config=config)
    rows = [describe(n, p, current=config.current) for n, p in sorted(config.profiles.items())]
    for row in rows:
        row["in_effect"] = row["name"] == in_effect
    return rows


def current_profile_name(name: str | None = None, *, config: Config | None = None) -> str | None:
    """The profile in effect: the given name (flag), ``AICONSOLE_PROFILE``, or the file's ``current``."""
    if name:
        return name
    env = os.environ.get("AICONSOLE_PROFILE")
    if env:
        return env
    config = config if config is not None else load_config()
    return config.current


def get_profile(name: str, *, config: Config | None = None):
    config = config if config is not None else load_config()
    try:
        return config.profiles[name]
    except KeyError:
        raise _unknown(name, config) from None


def connection_for_profile(name: str | None, *, config: Config | None = None):
    """The ``Connection`` for profile ``name`` (or the current one); None when none is configured.

    An unknown name is an error (exit 2), not None, so a typo never falls through to some
    other connection.
    """
    config = config if config is not None else load_config()
    name = current_profile_name(name, config=config)
    if name is None:
        return None
    return _connection(name, config, seen=())


def _connection(name: str, config: Config, *, seen: tuple[str, ...]):
    from aiconsole.backends.connect import Connection, sandbox_connection

    if name in seen:  # guarded by validation too; never loop
        raise ConfigError(f"Profile '{name}' refers to itself through `of`.")
    profile = get_profile(name, config=config)
    if isinstance(profile, SandboxProfile):
        conn = sandbox_connection(profile.url, profile=name, read_only=profile.read_only, production=profile.production)
        conn.extra.setdefault("profile_kind", "sandbox")
        return conn
    if isinstance(profile, AzureProfile):
        return Connection(
            kind="azure",
            management_url=profile.management_url,
            subscription_id=profile.subscription_id,
            resource_group=profile.resource_group,
            service_name=profile.service,
            label=f"{name}: {profile.service} ({profile.resource_group})",
            profile=name,
            read_only=profile.read_only,
            production=profile.production,
            auth=profile.auth,
            tenant_id=profile.tenant_id,
            client_id=profile.client_id,
            extra={
                "profile_kind": "azure",
                "app_insights_resource_id": profile.app_insights_resource_id,
                "log_analytics_workspace_id": profile.log_analytics_workspace_id,
                "prices": {k: v.model_dump() for k, v in profile.prices.items()},
                "secret_store": profile.secret_store,
            },
        )
    assert isinstance(profile, SelfHostedProfile)
    parent = _connection(profile.of, config, seen=seen + (name,))
    # The gateway is managed through its parent's instance: same endpoint and credential;
    # the guards add up, so a read-only parent keeps its self-hosted gateways read-only too.
    parent.profile = name
    parent.read_only = parent.read_only or profile.read_only
    parent.production = parent.production or profile.production
    parent.label = f"{name}: gateway {profile.gateway} of {parent.service_name}"
    parent.extra.update(
        {
            "profile_kind": "self-hosted",
            "of": profile.of,
            "gateway": profile.gateway,
            "gateway_nodes": list(profile.nodes),
            "metrics_url": profile.metrics_url,
        }
    )
    return parent


# -- editing --------------------------------------------------------------------------------


def add_profile(name: str, fields: dict[str, Any], *, make_current: bool | None = None, replace: bool = False,
                path: Path | None = None) -> None:
    """Add profile ``name`` with ``fields`` (must include ``kind``); validated before writing.

    When no profile is ``current`` yet, the new one becomes current unless ``make_current`` is False.
    """
    import tomlkit

    if not valid_profile_name(name):
        raise UsageError(f"'{name}' is not a valid profile name.", "Use letters, digits, '.', '_' and '-' (up to 64).")
    fields = {k: v for k, v in fields.items() if v is not None and v != [] and v != {}}
    check_new_profile(name, fields)
    with edit_config(path) as doc:
        profiles = doc.get("profiles")
        if profiles is None:
            profiles = tomlkit.table(is_super_table=True)
            doc["profiles"] = profiles
        if name in profiles and not replace:
            raise ConfigError(f"A profile named '{name}' already exists.", f"Remove it first: `aiconsole profile remove {name}`.")
        if fields.get("kind") == "self-hosted":
            parent = profiles.get(fields.get("of"))
            if parent is None or parent.get("kind") == "self-hosted":
                raise UsageError(
                    f"Cannot add profile '{name}': --of must name an azure or sandbox profile, and '{fields.get('of')}' is not one.",
                    "Nothing was written. List profiles with `aiconsole profile list`.",
                )
        table = tomlkit.table()
        for key, value in fields.items():
            if value is None or value == [] or value == {}:
                continue
            table[key] = value
        profiles[name] = table
        first = doc.get("current") is None
        if make_current or (make_current is None and first):
            doc["current"] = name


#: profile fields whose CLI option is not simply --field-name
_OPTION = {"url": "--sandbox", "metrics_url": "--metrics", "nodes": "--node",
           "app_insights_resource_id": "--app-insights", "log_analytics_workspace_id": "--log-analytics"}


def check_new_profile(name: str, fields: dict[str, Any]) -> None:
    """Validate a profile before it goes near the file, naming the offending option.

    Without this, a bad option would be reported as "the config file is invalid", which is
    true of the file we would have written, not of the one on disk.
    """
    from pydantic import TypeAdapter, ValidationError

    from aiconsole.config.model import Profile

    try:
        TypeAdapter(Profile).validate_python(fields)
    except ValidationError as exc:
        err = exc.errors(include_input=False, include_url=False)[0]
        where = [str(p) for p in err["loc"] if isinstance(p, str) and p != fields.get("kind")]
        msg = str(err["msg"]).removeprefix("Value error, ").rstrip(".")
        option = f"{_OPTION.get(where[-1], '--' + where[-1].replace('_', '-'))}: " if where else ""
        raise UsageError(f"Cannot add profile '{name}': {option}{msg}.", "Nothing was written.") from None


def remove_profile(name: str, *, path: Path | None = None) -> None:
    """Remove a profile; refuses while a self-hosted profile still points at it."""
    with edit_config(path) as doc:
        profiles = doc.get("profiles") or {}
        if name not in profiles:
            raise _unknown(name, load_config(path))
        users = [n for n, p in profiles.items() if p.get("kind") == "self-hosted" and p.get("of") == name]
        if users:
            raise ConfigError(
                f"Profile '{name}' is used by {', '.join(sorted(users))}.", "Remove those self-hosted profiles first."
            )
        del profiles[name]
        if doc.get("current") == name:
            del doc["current"]


def use_profile(name: str, *, path: Path | None = None) -> None:
    """Make ``name`` the file's ``current`` profile."""
    config = load_config(path)
    if name not in config.profiles:
        raise _unknown(name, config)
    with edit_config(path) as doc:
        doc["current"] = name


def set_profile_field(name: str, key: str, value: Any, *, path: Path | None = None) -> None:
    with edit_config(path) as doc:
        profiles = doc.get("profiles") or {}
        if name not in profiles:
            raise _unknown(name, load_config(path))
        profiles[name][key] = value


def describe(name: str, profile, *, current: str | None = None) -> dict[str, Any]:
    """A flat summary for ``profile list/show`` (no secrets exist in a profile to leak)."""
    data: dict[str, Any] = {"name": name, "kind": profile.kind, "current": name == current}
    if isinstance(profile, AzureProfile):
        data["target"] = f"{profile.subscription_id}/{profile.resource_group}/{profile.service}"
    elif isinstance(profile, SelfHostedProfile):
        data["target"] = f"gateway {profile.gateway} of {profile.of}"
    else:
        data["target"] = profile.url
    data["read_only"] = profile.read_only
    data["production"] = profile.production
    return data


def details(name: str, profile, *, current: str | None = None) -> dict[str, Any]:
    data = {"name": name, "current": name == current}
    data.update(profile.model_dump(mode="json", exclude_none=True))
    return data
