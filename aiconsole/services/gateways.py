"""Self-hosted gateways: overview, access tokens and key regeneration (journey J4).

ARM lists gateways, their keys and mints access tokens, but never says when a deployed token
expires, and regenerating a key silently kills every token minted from it. This service joins
what ARM knows with what the console remembers (``gateway_tokens.TokenLedger``) and what the
nodes say (``telemetry.node_health``), so an operator sees the expiry before the outage.

Tokens are deterministic: the same gateway, key and expiry instant always give the same token.
The console mints on whole minutes, so it can later re-mint a remembered token's twin and
compare fingerprints to learn whether that token still works, without ever storing it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr

from aiconsole.domain.errors import AiconsoleError, AuthError, NotFoundError, UsageError
from aiconsole.domain.models import Gateway, Slot
from aiconsole.domain.secrets import fingerprint, mask
from aiconsole.domain.text import sanitize
from aiconsole.services.context import ServiceContext
from aiconsole.services.durations import parse_duration
from aiconsole.services.gateway_tokens import EXPIRY_WARNING_DAYS, TokenLedger, TokenRecord, TokenState
from aiconsole.telemetry.node_health import MetricsRates, NodeHealth, RateTracker, probe_nodes, scrape

MAX_TOKEN_DAYS = 30
DEFAULT_TOKEN_DAYS = 30
SLOTS: tuple[Slot, ...] = ("primary", "secondary")
UNKNOWN_TOKEN_HINT = (
    "No token minted by this console; one minted elsewhere (portal, az) cannot be tracked. "
    "Mint one here, or register the deployed one with `aiconsole gateways check-token GW` (reads stdin)."
)



def utcnow() -> datetime:
    return datetime.now(UTC)


def other_slot(slot: str) -> Slot:
    return "secondary" if slot == "primary" else "primary"


def parse_slot(value: str) -> Slot:
    value = (value or "").strip().lower()
    if value not in SLOTS:
        raise UsageError(f"'{sanitize(value, max_length=40)}' is not a key slot.", "Use primary or secondary.")
    return value  # type: ignore[return-value]


def _looks_like_instant(text: str) -> bool:
    """``2026-12-01T…`` or ``2026-12-01``: an instant; anything else is read as a duration."""
    return bool(re.match(r"\s*\d{4}-\d{2}-\d{2}", text))


def parse_expiry(text: str | None, now: datetime) -> datetime:
    """The expiry instant of a new token: a duration from now or an ISO 8601 instant.

    Refused when in the past or more than 30 days ahead (ARM's limit), so nothing is minted
    that would be rejected or, worse, silently shortened. Rounded down to the whole minute,
    which is the precision of the token format and what makes later verification possible.
    """
    if text is None or not str(text).strip():
        expiry = now + timedelta(days=DEFAULT_TOKEN_DAYS)
    elif not _looks_like_instant(text):
        try:
            expiry = now + parse_duration(text, what="token lifetime")
        except (UsageError, OverflowError):
            raise UsageError(f"'{sanitize(text, max_length=40)}' is not an expiry.",
                             "Give a lifetime such as 30d or 12h, or an instant such as 2026-12-01T00:00Z.") from None
    else:
        raw = text.strip()
        raw = raw[:-1] + "+00:00" if raw[-1:] in ("Z", "z") else raw
        try:
            expiry = datetime.fromisoformat(raw)
        except ValueError:
            raise UsageError(f"'{sanitize(text, max_length=40)}' is not an expiry.",
                             "Give a lifetime such as 30d or 12h, or an instant such as 2026-12-01T00:00Z.") from None
        if expiry.tzinfo is None:
            expiry = expiry.replace(tzinfo=UTC)
    expiry = expiry.astimezone(UTC).replace(second=0, microsecond=0)
    if expiry <= now + timedelta(minutes=1):
        raise UsageError(f"The token expiry {_fmt(expiry)} is not in the future; nothing was minted.",
                         "Give a lifetime such as 30d (the default).")
    if expiry - now > timedelta(days=MAX_TOKEN_DAYS):
        raise UsageError(f"The token expiry {_fmt(expiry)} is more than {MAX_TOKEN_DAYS} days away; nothing was minted.",
                         f"API Management issues gateway tokens for at most {MAX_TOKEN_DAYS} days: use --expiry 30d or less.")
    return expiry


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _fmt(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def parse_token_text(token: str) -> tuple[str, datetime]:
    """``<gatewayId>&<yyyyMMddHHmm>&<signature>`` → (gateway id, expiry); a usage error otherwise."""
    raw = (token or "").strip()
    if raw.lower().startswith("gatewaykey "):
        raw = raw[len("gatewaykey "):].strip()
    parts = raw.split("&")
    if len(parts) != 3 or not all(parts):
        raise UsageError("This is not a gateway access token; nothing was recorded.",
                         "Expected `<gatewayId>&<yyyyMMddHHmm>&<signature>`, optionally prefixed by `GatewayKey `.")
    try:
        expires = datetime.strptime(parts[1], "%Y%m%d%H%M").replace(tzinfo=UTC)
    except ValueError:
        raise UsageError("The token's expiry field is not a yyyyMMddHHmm timestamp; nothing was recorded.") from None
    return parts[0], expires


def k8s_name(gateway: str) -> str:
    """A Kubernetes object name from a gateway id: lowercase DNS label characters only, so a
    strange id can neither break the YAML nor smuggle escape sequences into a terminal."""
    name = re.sub(r"[^a-z0-9-]+", "-", (gateway or "").lower()).strip("-")
    return name[:56] or "gateway"


# --------------------------------------------------------------------------- results


@dataclass
class MintedToken:
    """A freshly minted token: the value stays secret until a caller explicitly reveals it."""

    gateway: str
    slot: Slot
    value: SecretStr
    minted: datetime
    expires: datetime

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.value)

    def auth_value(self, *, reveal: bool = False) -> str:
        """The ``config.service.auth`` value a node expects: ``GatewayKey <token>``."""
        return "GatewayKey " + (self.value.get_secret_value() if reveal else mask(self.value))

    def kubernetes_secret(self, *, reveal: bool = False) -> str:
        """The Secret the self-hosted gateway's deployment reads ``config.service.auth`` from."""
        return (
            "apiVersion: v1\n"
            "kind: Secret\n"
            "metadata:\n"
            f"  name: {k8s_name(self.gateway)}-token\n"
            "type: Opaque\n"
            "stringData:\n"
            f"  value: \"{self.auth_value(reveal=reveal)}\"\n"
        )

    def as_json(self, *, reveal: bool = False) -> dict[str, Any]:
        """The ``gateways token`` contract: masked unless ``reveal``."""
        return {
            "gateway": self.gateway,
            "slot": self.slot,
            "token": self.value.get_secret_value() if reveal else mask(self.value),
            "auth_value": self.auth_value(reveal=reveal),
            "minted": self.minted,
            "expires": self.expires,
            "fingerprint": self.fingerprint,
            "kubernetes_secret": self.kubernetes_secret(reveal=reveal),
            "revealed": reveal,
        }


@dataclass
class GatewayTargets:
    """Where a gateway's nodes and metrics are (from a self-hosted profile or CLI flags)."""

    nodes: list[str] = field(default_factory=list)
    metrics_url: str | None = None


@dataclass
class GatewayStatus:
    """Everything the ``:gw`` view and ``gateways list`` show for one gateway."""

    gateway: Gateway
    apis: list[str] = field(default_factory=list)
    hostnames: list[str] = field(default_factory=list)
    nodes: list[NodeHealth] = field(default_factory=list)
    token: TokenRecord | None = None
    token_state: TokenState = "unknown"
    verified: bool | None = None
    metrics: MetricsRates | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.gateway.name

    @property
    def slot_in_use(self) -> str | None:
        """The key slot the nodes run: as every reporting node says, else the ledger's token."""
        reported = {n.token_slot for n in self.nodes if n.token_slot}
        if len(reported) == 1:
            return next(iter(reported))
        return self.token.slot if self.token is not None else None

    @property
    def hint(self) -> str:
        if self.token is None:
            return UNKNOWN_TOKEN_HINT.replace("GW", sanitize(self.name, max_length=80))
        if self.token_state == "invalidated":
            return f"Its {self.token.slot} key was regenerated after it was minted: mint a new token and deploy it."
        if self.token_state == "expired":
            return "Expired: nodes using it cannot reach the instance. Mint a new token and deploy it."
        if self.token_state == "expiring":
            return f"Expires within {EXPIRY_WARNING_DAYS} days: rotate it (mint from the other slot, deploy, regenerate)."
        return ""

    def sort_key(self) -> tuple[int, datetime, str]:
        """Dead tokens first, then soonest expiry, then gateways whose token is unknown."""
        far = datetime.max.replace(tzinfo=UTC)
        if self.token is None:
            return (2, far, self.name)
        if self.token_state in ("expired", "invalidated"):
            return (0, self.token.expires, self.name)
        return (1, self.token.expires, self.name)

    def as_json(self) -> dict[str, Any]:
        """The ``gateways list`` contract (names documented in the README)."""
        token = None
        if self.token is not None:
            token = {**self.token.as_json(), "state": self.token_state, "verified": self.verified}
        return {
            "name": self.name,
            "location": self.gateway.location,
            "description": self.gateway.description,
            "hostnames": self.hostnames,
            "apis": self.apis,
            "nodes": [n.as_json() for n in self.nodes],
            "token": token,
            "token_state": self.token_state,
            "hint": self.hint or None,
            "metrics": self.metrics.as_json() if self.metrics else None,
            "problems": self.problems,
        }


@dataclass
class RegenerateResult:
    gateway: str
    slot: Slot
    key_fingerprint_before: str | None
    key_fingerprint_after: str | None
    invalidated: list[TokenRecord]

    def as_json(self) -> dict[str, Any]:
        return {
            "gateway": self.gateway,
            "slot": self.slot,
            "key_fingerprint_before": self.key_fingerprint_before,
            "key_fingerprint_after": self.key_fingerprint_after,
            "invalidated_tokens": [r.as_json() for r in self.invalidated],
        }


@dataclass
class TokenCheck:
    """What ``check-token`` learned about a token it was given (never the token itself)."""

    gateway: str
    slot: Slot
    expires: datetime
    fingerprint: str
    known: bool
    recorded: bool

    def as_json(self) -> dict[str, Any]:
        return {"gateway": self.gateway, "slot": self.slot, "expires": self.expires, "fingerprint": self.fingerprint,
                "valid": True, "known": self.known, "recorded": self.recorded}


# --------------------------------------------------------------------------- the service


class GatewayService:
    """Use cases on the self-hosted gateways of one instance; the CLI and the TUI share it."""

    def __init__(self, ctx: ServiceContext, *, ledger: TokenLedger | None = None,
                 clock: Callable[[], datetime] = utcnow, rates: RateTracker | None = None) -> None:
        self.ctx = ctx
        self.backend = ctx.backend
        self.ledger = ledger or TokenLedger()
        self.clock = clock
        self.rates = rates or RateTracker()

    @property
    def instance(self) -> str:
        """The ledger key of this instance: the service name (globally unique in Azure)."""
        return self.ctx.service_name or getattr(self.backend, "label", "default")

    # -- reads -----------------------------------------------------------------------------
    def list(self) -> list[Gateway]:
        return sorted(self.backend.list_gateways(), key=lambda g: g.name)

    def get(self, gid: str) -> Gateway:
        """The gateway, or a NotFoundError that names it and what to do."""
        try:
            return self.backend.get_gateway(gid)
        except NotFoundError:
            raise NotFoundError(f"There is no gateway '{sanitize(gid, max_length=80)}' in {self.instance}; nothing was changed.",
                                "List the gateways with `aiconsole gateways list`.") from None

    def hostnames(self, gid: str) -> list[str]:
        """Hostname configurations (``host`` or ``host (mTLS)``) through the adapter's error mapping."""
        client = getattr(self.backend, "client", None)
        if client is None:
            lister = getattr(self.backend, "list_gateway_hostnames", None)
            return list(lister(gid)) if lister else []

        def fetch() -> list[str]:
            items = client.gateway_hostname_configuration.list_by_service(self.backend.rg, self.backend.service, gid)
            out = []
            for item in items:
                host = sanitize(getattr(item, "hostname", None) or item.name, max_length=80)
                out.append(host + (" (mTLS)" if getattr(item, "negotiate_client_certificate", False) else ""))
            return out

        return self.backend._call(f"list the hostnames of gateway '{gid}'", fetch,
                                  action="Microsoft.ApiManagement/service/gateways/hostnameConfigurations/read")

    def token_status(self, gid: str, *, verify: bool = True) -> tuple[TokenRecord | None, TokenState, bool | None]:
        """The token to show, its state, and whether ARM confirmed it still works (None: not checked)."""
        now = self.clock()
        record = self.ledger.current(self.instance, gid, now)
        if record is None:
            return None, "unknown", None
        state = record.state(now)
        verified: bool | None = None
        if verify and state in ("valid", "expiring"):
            verified = self.verify_record(record)
            if verified is False:
                state = "invalidated"
        return record, state, verified

    def verify_record(self, record: TokenRecord) -> bool | None:
        """Re-mint the twin of a remembered token and compare fingerprints; None if ARM refuses."""
        try:
            twin = self.backend.generate_gateway_token(record.gateway, record.slot, record.expires)  # type: ignore[arg-type]
        except AiconsoleError:  # no RBAC for token/action, throttled, gone: "not verified", not "dead"
            return None
        return fingerprint(twin) == record.fingerprint

    def status(self, gateway: Gateway, targets: GatewayTargets | None = None, *, verify: bool = True,
               probe: bool = True) -> GatewayStatus:
        """Join ARM, the ledger, the nodes and the metrics for one gateway; partial failures are noted."""
        targets = targets or GatewayTargets()
        st = GatewayStatus(gateway=gateway)
        try:
            st.apis = sorted(a.name for a in self.backend.list_gateway_apis(gateway.name))
        except AiconsoleError as exc:
            st.problems.append(exc.message)
        try:
            st.hostnames = self.hostnames(gateway.name)
        except AiconsoleError as exc:
            st.problems.append(exc.message)
        st.token, st.token_state, st.verified = self.token_status(gateway.name, verify=verify)
        if probe and targets.nodes:
            st.nodes = probe_nodes(targets.nodes)
        if probe and targets.metrics_url:
            try:
                st.metrics = self.rates.update(gateway.name, scrape(targets.metrics_url, gateway=gateway.name))
            except AiconsoleError as exc:
                st.problems.append(exc.message)
        return st

    def refresh_live(self, status: GatewayStatus, targets: GatewayTargets | None, *,
                     probe: bool = True) -> GatewayStatus:
        """A copy of ``status`` with metrics scraped again and (``probe``) nodes probed again;
        ARM and the ledger are not read."""
        from dataclasses import replace

        fresh = replace(status, problems=[p for p in status.problems if "metrics" not in p.lower()])
        if targets is None:
            return fresh
        if probe and targets.nodes:
            fresh.nodes = probe_nodes(targets.nodes)
        if targets.metrics_url:
            try:
                fresh.metrics = self.rates.update(status.name, scrape(targets.metrics_url, gateway=status.name))
            except AiconsoleError as exc:
                fresh.problems.append(exc.message)
        return fresh

    def overview(self, targets: dict[str, GatewayTargets] | None = None, *, verify: bool = True,
                 probe: bool = True, only: str | None = None) -> list[GatewayStatus]:
        """Every gateway of the instance, sorted by soonest token expiry (dead tokens first)."""
        targets = targets or {}
        gateways = [self.get(only)] if only else self.list()
        with ThreadPoolExecutor(max_workers=max(1, min(4, len(gateways)))) as pool:
            rows = list(pool.map(lambda g: self.status(g, targets.get(g.name), verify=verify, probe=probe), gateways))
        return sorted(rows, key=GatewayStatus.sort_key)

    def expiring(self, within: timedelta, targets: dict[str, GatewayTargets] | None = None,
                 *, verify: bool = True) -> list[GatewayStatus]:
        """Gateways whose token is dead, unknown, or expires within ``within``."""
        now = self.clock()
        rows = self.overview(targets, verify=verify, probe=False)
        return [r for r in rows if r.token is None or r.token_state in ("expired", "invalidated")
                or r.token.expires - now <= within]

    def known_tokens_from_slot(self, gid: str, slot: str) -> list[TokenRecord]:
        """What the regeneration confirmation lists: live tokens the console minted from ``slot``."""
        return self.ledger.live_from_slot(self.instance, gid, slot, self.clock())

    # -- writes ----------------------------------------------------------------------------
    def mint(self, gid: str, slot: str, expiry: str | datetime | None = None, *, reason: str | None = None,
             confirm_name: str | None = None) -> MintedToken:
        """Mint a token from ``slot``; validated before anything is asked or written."""
        slot = parse_slot(slot)
        now = self.clock()
        expires = parse_expiry(expiry.isoformat() if isinstance(expiry, datetime) else expiry, now)
        self.get(gid)
        with self.ctx.write("gateways.token", gid, reason=reason, confirm_name=confirm_name,
                            before={"slot": slot, "expires": _iso(expires)}) as rec:
            value = self.backend.generate_gateway_token(gid, slot, expires)
            token = MintedToken(gateway=gid, slot=slot, value=SecretStr(value), minted=now, expires=expires)
            rec.after = {"slot": slot, "expires": _iso(expires), "fingerprint": token.fingerprint}
            self.ledger.record_token(instance=self.instance, gateway=gid, slot=slot, minted=now, expires=expires,
                                     fingerprint=token.fingerprint)
        return token

    def _key_fingerprint(self, gid: str, slot: str) -> str | None:
        try:
            keys = self.backend.list_gateway_keys(gid)
        except AuthError:
            return None
        return fingerprint(keys.primary if slot == "primary" else keys.secondary)

    def regenerate(self, gid: str, slot: str, *, reason: str | None = None,
                   confirm_name: str | None = None) -> RegenerateResult:
        """Regenerate one key slot: every token minted from it stops working at once."""
        slot = parse_slot(slot)
        self.get(gid)
        affected = self.known_tokens_from_slot(gid, slot)
        before_fp = self._key_fingerprint(gid, slot)
        with self.ctx.write("gateways.regenerate-key", gid, reason=reason, confirm_name=confirm_name,
                            before={"slot": slot, "key_fingerprint": before_fp,
                                    "invalidates": [r.fingerprint for r in affected]}) as rec:
            rec.make(self.backend.regenerate_gateway_key, gid, slot)
            self.ledger.record_regeneration(instance=self.instance, gateway=gid, slot=slot, when=self.clock())
            after_fp = self._key_fingerprint(gid, slot)
            rec.after = {"slot": slot, "key_fingerprint": after_fp}
        return RegenerateResult(gid, slot, before_fp, after_fp, affected)

    def check_token(self, gid: str, token: SecretStr, *, record: bool = True) -> TokenCheck:
        """Verify a token minted anywhere against the gateway's current keys; remember it if valid.

        Verification re-mints the twin (same gateway, slot, expiry) and compares fingerprints,
        so the console needs no copy of the signing algorithm and stores nothing secret.
        """
        raw = token.get_secret_value()
        token_gw, expires = parse_token_text(raw)
        if token_gw != gid:
            raise UsageError(f"This token belongs to gateway '{sanitize(token_gw, max_length=80)}', not '{gid}'; nothing was recorded.")
        self.get(gid)
        now = self.clock()
        if expires <= now:
            raise UsageError(f"This token expired at {_fmt(expires)}; nothing was recorded.",
                             "Mint a new one and deploy it.")
        value = raw.strip()
        if value.lower().startswith("gatewaykey "):
            value = value[len("gatewaykey "):].strip()
        fp = fingerprint(value)
        for slot in SLOTS:
            try:
                twin = self.backend.generate_gateway_token(gid, slot, expires)
            except AiconsoleError as exc:
                raise type(exc)(f"The console cannot verify this token: {exc.message}",
                                "Nothing was recorded.") from None
            if fingerprint(twin) == fp:
                known = any(r.fingerprint == fp for r in self.ledger.tokens(self.instance, gid))
                recorded = False
                if record and not known:
                    self.ledger.record_token(instance=self.instance, gateway=gid, slot=slot, minted=now,
                                             expires=expires, fingerprint=fp, source="adopted")
                    recorded = True
                return TokenCheck(gid, slot, expires, fp, known, recorded)
        raise AiconsoleError(
            f"The console cannot verify this token (fingerprint {fp}): neither current key of '{gid}' signed it; "
            "nothing was recorded.",
            "Its key was probably regenerated (the token no longer works), it is for another instance, "
            "or it was not minted on a whole minute. Mint a new token.")


def parse_target(text: str, *, default_gateway: str | None, what: str = "node") -> tuple[str, str]:
    """``GW=URL`` or a bare ``URL`` (for ``default_gateway``) → (gateway, url)."""
    text = (text or "").strip()
    head, sep, tail = text.partition("=")
    if sep and "://" not in head and head:
        return head, tail
    if default_gateway is None:
        raise UsageError(f"Which gateway is the {what} '{sanitize(text, max_length=80)}' for?",
                         "Write it as GW=URL, or name the gateway with --gateway GW.")
    return default_gateway, text


def targets_from_connection(connection) -> tuple[dict[str, GatewayTargets], str | None]:
    """Node and metrics URLs from self-hosted profiles, and the gateway a self-hosted profile is about.

    The current profile may itself be self-hosted (its parent is the connection), and any other
    self-hosted profile ``of`` the same parent contributes its gateway's nodes too. Profiles are
    optional: without the config module or a config file this returns nothing.
    """
    extra = getattr(connection, "extra", None) or {}
    targets: dict[str, GatewayTargets] = {}
    focus = None
    parent = getattr(connection, "profile", None)
    if extra.get("profile_kind") == "self-hosted" and extra.get("gateway"):
        focus = extra["gateway"]
        parent = extra.get("of")
        targets[focus] = GatewayTargets(list(extra.get("gateway_nodes") or []), extra.get("metrics_url"))
    if parent:
        try:
            from aiconsole.config.store import load_config

            config = load_config()
        except (ImportError, AiconsoleError):
            return targets, focus
        for profile in config.profiles.values():
            if getattr(profile, "kind", None) == "self-hosted" and profile.of == parent:
                targets.setdefault(profile.gateway, GatewayTargets(list(profile.nodes), profile.metrics_url))
    return targets, focus
