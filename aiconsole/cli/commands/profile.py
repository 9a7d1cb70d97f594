"""``aiconsole profile``: add, list, show, use, remove, discover, and the client secret.

Only argparse at module level: everything else is imported by the handler that needs it.
"""

from __future__ import annotations

import argparse

AUTH_MODES = ("cli", "device-code", "service-principal", "managed-identity", "default")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("profile", help="manage connection profiles (config.toml)")
    ps = p.add_subparsers(dest="profile_command", metavar="ACTION")
    p.set_defaults(handler=_run_list)

    add = ps.add_parser(
        "add",
        help="add a profile",
        description="Add a profile: a sandbox URL, an APIM instance in Azure, or a self-hosted gateway of one.",
    )
    add.add_argument("name")
    kind = add.add_mutually_exclusive_group(required=True)
    kind.add_argument("--sandbox", dest="sandbox_url", metavar="URL", help="management_url of an aiconsole sandbox")
    kind.add_argument("--azure", action="store_true", help="an API Management instance in Azure")
    kind.add_argument("--self-hosted", action="store_true", help="a self-hosted gateway of another profile's instance")
    az = add.add_argument_group("azure")
    az.add_argument("--subscription-id", metavar="ID")
    az.add_argument("--resource-group", metavar="RG")
    az.add_argument("--service", metavar="NAME", help="the API Management service name")
    az.add_argument("--tenant-id", metavar="T")
    az.add_argument("--auth", choices=AUTH_MODES, default=None, help="sign-in mode (default: cli)")
    az.add_argument("--client-id", metavar="ID", help="application (client) id for service-principal or a user-assigned managed identity")
    az.add_argument("--management-url", metavar="URL", help="ARM endpoint for sovereign clouds")
    az.add_argument("--app-insights", dest="app_insights_resource_id", metavar="RESOURCE_ID")
    az.add_argument("--log-analytics", dest="log_analytics_workspace_id", metavar="WORKSPACE_ID")
    sh = add.add_argument_group("self-hosted")
    sh.add_argument("--gateway", metavar="GW", help="gateway id in the parent instance")
    sh.add_argument("--of", metavar="PROFILE", help="the azure or sandbox profile that manages the gateway")
    sh.add_argument("--node", action="append", default=[], metavar="URL", help="a gateway node URL (repeatable)")
    sh.add_argument("--metrics", metavar="URL", help="Prometheus URL with the gateway's metrics")
    add.add_argument("--read-only", action="store_true", help="refuse every write through this profile")
    add.add_argument("--production", action="store_true", help="writes need --yes --confirm SERVICE_NAME")
    add.add_argument("--use", action="store_true", help="make it the current profile")
    add.add_argument("--replace", action="store_true", help="replace an existing profile of that name")
    add.set_defaults(handler=_run_add)

    ls = ps.add_parser("list", help="list profiles")
    ls.set_defaults(handler=_run_list)

    show = ps.add_parser("show", help="show one profile")
    show.add_argument("name", nargs="?", help="default: the profile in effect")
    show.set_defaults(handler=_run_show)

    use = ps.add_parser("use", help="make a profile the current one")
    use.add_argument("name")
    use.set_defaults(handler=_run_use)

    rm = ps.add_parser("remove", help="remove a profile")
    rm.add_argument("name")
    rm.set_defaults(handler=_run_remove)

    chk = ps.add_parser("check", help="sign in and read the service (and gateway) a profile names")
    chk.add_argument("name", nargs="?", help="default: the profile in effect")
    chk.set_defaults(handler=_run_check)

    disc = ps.add_parser(
        "discover",
        help="list the API Management services the signed-in principal can see",
        description="List API Management services in an Azure subscription (ARM api_management_service.list).",
    )
    disc.add_argument("--subscription-id", metavar="ID", help="default: the sandbox's or the profile's")
    disc.add_argument("--tenant-id", metavar="T")
    disc.add_argument("--auth", choices=AUTH_MODES, default=None)
    disc.add_argument("--client-id", metavar="ID")
    disc.add_argument("--management-url", metavar="URL")
    disc.set_defaults(handler=_run_discover)

    sec = ps.add_parser("secret", help="store or remove a service principal's client secret")
    ss = sec.add_subparsers(dest="secret_command", metavar="ACTION")
    sset = ss.add_parser(
        "set",
        help="prompt for the client secret and store it",
        description="Prompt for a service principal's client secret and store it outside the config file.",
    )
    sset.add_argument("name")
    store = sset.add_mutually_exclusive_group()
    store.add_argument("--keyring", dest="store", action="store_const", const="keyring", help="the OS keyring (default)")
    store.add_argument(
        "--encrypted-file", dest="store", action="store_const", const="encrypted-file",
        help="a passphrase-encrypted file under the data directory (for hosts without a keyring)",
    )
    store.add_argument(
        "--plaintext-file-unencrypted", dest="store", action="store_const", const="plaintext-file",
        help="a PLAIN TEXT file readable by your user; only if you accept that",
    )
    sset.add_argument("--from-stdin", action="store_true", help="read the secret from standard input instead of prompting")
    sset.set_defaults(handler=_run_secret_set)
    sdel = ss.add_parser("delete", help="remove the stored client secret")
    sdel.add_argument("name")
    sdel.set_defaults(handler=_run_secret_delete)
    sstat = ss.add_parser("status", help="say where the client secret would be read from")
    sstat.add_argument("name")
    sstat.set_defaults(handler=_run_secret_status)
    sec.set_defaults(handler=_run_secret_help(sec))


def _run_secret_help(parser):
    def run(ctx) -> int:
        parser.print_help()
        return 2

    return run


def _usage(message: str, hint: str = ""):
    from aiconsole.domain.errors import UsageError

    return UsageError(message, hint)


def _fields_from_args(args) -> dict:
    if args.sandbox_url:
        _reject(args, ("subscription_id", "resource_group", "service", "tenant_id", "auth", "client_id", "management_url",
                       "app_insights_resource_id", "log_analytics_workspace_id", "gateway", "of", "metrics"), "--sandbox")
        if args.node:
            raise _usage("--node is for --self-hosted profiles.")
        return {"kind": "sandbox", "url": args.sandbox_url}
    if args.azure:
        missing = [f"--{f.replace('_', '-')}" for f in ("subscription_id", "resource_group", "service") if not getattr(args, f)]
        if missing:
            raise _usage(f"An azure profile needs {', '.join(missing)}.",
                         "Find them with `aiconsole profile discover --subscription-id ID`.")
        _reject(args, ("gateway", "of", "metrics"), "--azure")
        if args.node:
            raise _usage("--node is for --self-hosted profiles.")
        return {
            "kind": "azure",
            "tenant_id": args.tenant_id,
            "subscription_id": args.subscription_id,
            "resource_group": args.resource_group,
            "service": args.service,
            "auth": args.auth or "cli",
            "client_id": args.client_id,
            "management_url": args.management_url,
            "app_insights_resource_id": args.app_insights_resource_id,
            "log_analytics_workspace_id": args.log_analytics_workspace_id,
        }
    missing = [f"--{f}" for f in ("gateway", "of") if not getattr(args, f)]
    if missing:
        raise _usage(f"A self-hosted profile needs {', '.join(missing)}.")
    _reject(args, ("subscription_id", "resource_group", "service", "tenant_id", "auth", "client_id", "management_url",
                   "app_insights_resource_id", "log_analytics_workspace_id"), "--self-hosted")
    return {"kind": "self-hosted", "gateway": args.gateway, "of": args.of, "nodes": list(args.node),
            "metrics_url": args.metrics}


def _reject(args, names, kind: str) -> None:
    given = [f"--{n.replace('_', '-')}" for n in names if getattr(args, n, None)]
    if given:
        raise _usage(f"{', '.join(given)} do not apply to {kind} profiles.")


def _run_add(ctx) -> int:
    from aiconsole.config.profiles import add_profile, describe, get_profile
    from aiconsole.config.store import load_config

    args = ctx.args
    fields = _fields_from_args(args)
    if args.read_only:
        fields["read_only"] = True
    if args.production:
        fields["production"] = True
    add_profile(args.name, fields, make_current=True if args.use else None, replace=args.replace)
    config = load_config()
    data = describe(args.name, get_profile(args.name, config=config), current=config.current)
    if ctx.json:
        ctx.emit(data)
    else:
        ctx.emit(f"Added profile '{args.name}'" + (" (current)." if data["current"] else "."))
    return 0


def _run_list(ctx) -> int:
    from aiconsole.config.profiles import describe
    from aiconsole.config.store import load_config

    config = load_config()
    rows = [describe(n, p, current=config.current) for n, p in sorted(config.profiles.items())]
    if ctx.json:
        ctx.emit(rows)
        return 0
    for row in rows:
        row["current"] = "*" if row["current"] else ""
        row["read_only"] = "yes" if row["read_only"] else ""
        row["production"] = "yes" if row["production"] else ""
    if not rows:
        ctx.emit("No profiles yet. Add one with `aiconsole profile add NAME --sandbox URL` or `--azure ...`.")
        return 0
    ctx.emit(rows, columns=["current", "name", "kind", "target", "read_only", "production"])
    return 0


def _run_show(ctx) -> int:
    from aiconsole.config.profiles import current_profile_name, details, get_profile
    from aiconsole.config.store import load_config

    config = load_config()
    name = ctx.args.name or current_profile_name(ctx.args.profile, config=config)
    if not name:
        raise _usage("No profile is in effect.", "Name one: `aiconsole profile show NAME`.")
    ctx.emit(details(name, get_profile(name, config=config), current=config.current))
    return 0


def _run_use(ctx) -> int:
    from aiconsole.config.profiles import use_profile

    use_profile(ctx.args.name)
    if ctx.json:
        ctx.emit({"current": ctx.args.name})
    else:
        ctx.emit(f"Now using profile '{ctx.args.name}'.")
    return 0


def _run_remove(ctx) -> int:
    from aiconsole.config.profiles import remove_profile

    remove_profile(ctx.args.name)
    if ctx.json:
        ctx.emit({"removed": ctx.args.name})
    else:
        ctx.emit(f"Removed profile '{ctx.args.name}'.")
    return 0


def _run_check(ctx) -> int:
    from aiconsole.config.check import check_connection
    from aiconsole.config.profiles import connection_for_profile

    name = ctx.args.name or ctx.args.profile
    connection = connection_for_profile(name)
    if connection is None:
        raise _usage("No profile is in effect.", "Name one: `aiconsole profile check NAME`.")
    ctx.emit(check_connection(connection))
    return 0


def _run_discover(ctx) -> int:
    from aiconsole.config.discover import discover_services

    rows = discover_services(
        sandbox=ctx.args.sandbox,
        profile=ctx.args.profile,
        subscription_id=ctx.args.subscription_id,
        tenant_id=ctx.args.tenant_id,
        auth=ctx.args.auth,
        client_id=ctx.args.client_id,
        management_url=ctx.args.management_url,
    )
    if ctx.json:
        ctx.emit(rows)
    else:
        ctx.emit(rows, columns=["name", "resource_group", "location", "sku", "gateway_url"])
    return 0


def _run_secret_set(ctx) -> int:
    import sys

    from aiconsole.config.secrets import read_secret_interactively, store_client_secret

    args = ctx.args
    secret = read_secret_interactively(from_stdin=args.from_stdin)
    where = store_client_secret(args.name, secret, store=args.store)
    message = f"Stored the client secret of profile '{args.name}' in {where}."
    if ctx.json:
        ctx.emit({"profile": args.name, "stored_in": where})
    else:
        sys.stderr.write(message + "\n")
    return 0


def _run_secret_delete(ctx) -> int:
    from aiconsole.config.secrets import delete_client_secret

    where = delete_client_secret(ctx.args.name)
    ctx.emit({"profile": ctx.args.name, "deleted_from": where} if ctx.json else f"Removed the client secret from {where}.")
    return 0


def _run_secret_status(ctx) -> int:
    from aiconsole.config.secrets import secret_status

    ctx.emit(secret_status(ctx.args.name))
    return 0
