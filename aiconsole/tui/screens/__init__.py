"""The ``:`` command registry: which word opens which screen.

Screens are named by import path and imported only when first opened, so adding a screen
costs nothing at start-up and this module never imports Textual. A later screen registers with
one line at the bottom of this file (or from its own package's ``__init__``)::

    register_screen("limits", "aiconsole.tui.screens.limits:LimitsScreen",
                    "effective token limits", aliases=("lim",))

The class should subclass ``aiconsole.tui.screens.base.ConsoleScreen``; ``:limits ARG`` passes
``ARG`` to ``ConsoleScreen.from_command``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ScreenCommand:
    name: str
    target: str  # "package.module:ClassName"
    help: str
    aliases: tuple[str, ...] = field(default=())

    def load(self) -> type:
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)


REGISTRY: dict[str, ScreenCommand] = {}
_ALIASES: dict[str, str] = {}
_EXTRA_BINDING_CLASSES: list[str] = []

#: commands the console will have (DESIGN.md journeys) but that no screen answers yet
PLANNED: dict[str, str] = {
    "limits": "effective token limits",
    "top": "the live throughput view",
    "429": "throttled subscriptions",
    "gw": "self-hosted gateways",
    "audit": "the audit journal",
    "ctx": "switching profiles",
    "usage": "usage reports",
    "auth": "sign-in",
    "backends": "backends",
}

#: commands the app itself answers (not screens)
APP_COMMANDS: dict[str, str] = {
    "q": "quit",
    "quit": "quit",
    "help": "show the keys of this screen",
    "theme": "switch theme: :theme NAME (no name lists them)",
}


def register_screen(name: str, target: str, help: str, *, aliases: Iterable[str] = ()) -> None:
    """Make ``:name`` (and each alias) open the screen class at ``target``."""
    command = ScreenCommand(name, target, help, tuple(aliases))
    REGISTRY[name] = command
    _ALIASES[name] = name
    for alias in command.aliases:
        _ALIASES[alias] = name


def register_binding_class(target: str) -> None:
    """Declare a widget/modal class whose bindings users may remap (for ``known_binding_ids``)."""
    if target not in _EXTRA_BINDING_CLASSES:
        _EXTRA_BINDING_CLASSES.append(target)


def extra_binding_classes() -> list[type]:
    """The declared classes that import; one that does not is skipped (and fails where it is used)."""
    out = []
    for target in _EXTRA_BINDING_CLASSES:
        module, _, attr = target.partition(":")
        try:
            out.append(getattr(importlib.import_module(module), attr))
        except (ImportError, AttributeError):
            continue
    return out


def resolve(word: str) -> ScreenCommand | None:
    name = _ALIASES.get(word.strip().lower())
    return REGISTRY.get(name) if name else None


def command_words() -> list[str]:
    """Every word ``:`` understands (for suggestions)."""
    return sorted({*_ALIASES, *APP_COMMANDS, *PLANNED})


# -- built-in screens ------------------------------------------------------------------------
register_screen("subs", "aiconsole.tui.screens.subscriptions:SubscriptionsScreen",
                "subscriptions and their keys", aliases=("subscriptions", "sub", "keys"))
register_binding_class("aiconsole.tui.screens.subscription_detail:SubscriptionDetailScreen")
register_binding_class("aiconsole.tui.screens.confirm:ConfirmScreen")
register_binding_class("aiconsole.tui.screens.help:HelpScreen")
register_screen("limits", "aiconsole.tui.screens.limits:LimitsScreen",
                "token limits, overrides and edits (:limits SID for one subscription's chain)",
                aliases=("lim", "limit"))
register_binding_class("aiconsole.tui.screens.limit_chain:EffectiveChainScreen")
register_binding_class("aiconsole.tui.screens.limit_diff:ConflictScreen")
register_screen("top", "aiconsole.tui.screens.top:TopScreen", "live tokens/min per subscription against its limit",
                aliases=("live",))
register_screen("429", "aiconsole.tui.screens.throttling:ThrottlingScreen", "who is throttled now, and why",
                aliases=("throttling", "throttled"))
register_binding_class("aiconsole.tui.screens.sub_live:SubscriptionLiveScreen")
register_binding_class("aiconsole.tui.screens.limit_forms:OverrideForm")
register_binding_class("aiconsole.tui.screens.limit_forms:LimitEditForm")
register_screen("gw", "aiconsole.tui.screens.gateways:GatewaysScreen",
                "self-hosted gateways: health, token expiry, keys", aliases=("gateways", "gateway"))
register_binding_class("aiconsole.tui.screens.gateway_token:MintTokenScreen")
register_binding_class("aiconsole.tui.screens.gateway_regenerate:RegenerateKeyScreen")
register_binding_class("aiconsole.tui.screens.gateway_rotate:RotateGatewayScreen")
register_screen("audit", "aiconsole.tui.screens.audit:AuditScreen", "the audit journal of this machine",
                aliases=("journal",))
register_screen("auth", "aiconsole.tui.screens.auth:PostureScreen", "authentication posture of every API", aliases=("posture",))
register_screen("usage", "aiconsole.tui.screens.usage:UsageScreen", "token usage per subscription, product or owner (:usage product)")
register_screen("backends", "aiconsole.tui.screens.backends:BackendsScreen", "backends, pools and circuit breakers", aliases=("be",))
register_screen("ctx", "aiconsole.tui.screens.contexts:ContextsScreen", "switch to another profile",
                aliases=("context", "profiles"))
register_binding_class("aiconsole.tui.screens.issue:CreateSubscriptionScreen")
register_binding_class("aiconsole.tui.screens.issue:NewKeyScreen")
register_binding_class("aiconsole.tui.screens.issue:EditSubscriptionScreen")
register_binding_class("aiconsole.tui.screens.issue:DeleteSubscriptionScreen")
register_binding_class("aiconsole.tui.screens.issue:BulkActionScreen")
register_binding_class("aiconsole.tui.screens.rotation:TwoSlotRotationScreen")
