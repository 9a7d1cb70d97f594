"""User key remapping: ``{binding_id: "key[,key...]"}`` applied over the built-in bindings.

Every ``Binding`` in the console carries an ``id`` (``app.quit``, ``table.sort``,
``subs.rotate_primary`` ...). A user keymap — read from ``[keymap]`` in config.toml by the
config layer — names those ids, so a remap survives changes to the default keys and works in
tmux setups where a key is taken. Unknown ids are reported, not fatal.

Usage::

    from aiconsole.tui.keymap import apply_keymap
    problems = apply_keymap(app, {"app.quit": "Q", "table.sort": "o"})
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from textual.binding import Binding


def bindings_of(cls: type) -> list[Binding]:
    """The ``Binding`` objects a class declares, including inherited ones (most derived first)."""
    out: list[Binding] = []
    for klass in cls.__mro__:
        for item in klass.__dict__.get("BINDINGS", ()):
            if isinstance(item, Binding):
                out.append(item)
    return out


def binding_table(classes: Iterable[type]) -> dict[str, Binding]:
    """``{id: Binding}`` for the given classes; the first declaration of an id wins."""
    table: dict[str, Binding] = {}
    for cls in classes:
        for binding in bindings_of(cls):
            if binding.id and binding.id not in table:
                table[binding.id] = binding
    return table


def console_classes() -> list[type]:
    """Every class whose bindings a user can remap: the app, the shared screens and widgets, and
    each screen in the command registry (imported here, lazily, only when asked)."""
    from aiconsole.tui.app import AiConsoleApp
    from aiconsole.tui.screens import REGISTRY, extra_binding_classes
    from aiconsole.tui.screens.base import ConsoleScreen
    from aiconsole.tui.widgets.prompt import PromptInput
    from aiconsole.tui.widgets.resource_table import ResourceTable

    classes: list[type] = [AiConsoleApp, ConsoleScreen, PromptInput, ResourceTable]
    for command in REGISTRY.values():
        try:
            classes.append(command.load())
        except (ImportError, AttributeError):
            continue  # a screen that cannot load is reported when it is opened, not here
    classes.extend(extra_binding_classes())
    return classes


def known_binding_ids() -> dict[str, Binding]:
    return binding_table(console_classes())


def validate_keymap(overrides: Mapping[str, object], known: Mapping[str, Binding] | None = None) -> tuple[dict[str, str], list[str]]:
    """Split ``overrides`` into a clean keymap and one sentence per entry we cannot use."""
    known = known if known is not None else known_binding_ids()
    clean: dict[str, str] = {}
    problems: list[str] = []
    for binding_id, keys in overrides.items():
        if binding_id not in known:
            problems.append(f"keymap: '{binding_id}' is not a binding id (see `?` in the console for the ids).")
            continue
        if not isinstance(keys, str) or not keys.strip() or any(not k.strip() for k in keys.split(",")):
            problems.append(f"keymap: '{binding_id}' needs a key such as \"x\" or \"f5,x\".")
            continue
        clean[binding_id] = ",".join(k.strip() for k in keys.split(","))
    return clean, problems


def apply_keymap(app, overrides: Mapping[str, object]) -> list[str]:
    """Merge ``overrides`` into ``app``'s keymap; returns the problems (also shown by the app)."""
    clean, problems = validate_keymap(overrides)
    if clean:
        app.update_keymap(clean)
    return problems
