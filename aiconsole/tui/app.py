"""``AiConsoleApp``: the shell every screen lives in.

It owns the connection, the service hub (backend built in a worker, so the first frame paints
before the Azure SDK is imported), the clock, themes and keymap, the ``:`` command dispatcher and
error notifications. Screens do the rest; this file stays small on purpose.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

from aiconsole.domain.text import sanitize
from aiconsole.tui.clock import Clock, SystemClock
from aiconsole.tui.errors import notify_error
from aiconsole.tui.hub import ServiceHub
from aiconsole.tui.theming import DEFAULT_THEME, builtin_themes, state_variable_defaults, user_themes


ERROR_REPEAT_SECONDS = 5.0


class AiConsoleApp(App[int]):
    TITLE = "aiconsole"
    CSS_PATH = "app.tcss"
    NOTIFICATION_TIMEOUT = 6

    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark", "help", "Help", id="app.help"),
        Binding("colon", "command_bar", "Command", id="app.command"),
        Binding("ctrl+t", "change_theme", "Theme", show=False, id="app.theme"),
    ]

    def __init__(
        self,
        connection: Any,
        theme_name: str | None = None,
        *,
        backend: Any = None,
        context: Any = None,
        clock: Clock | None = None,
        keymap: Mapping[str, object] | None = None,
        cursor_blink: bool = True,
        start_command: str = "subs",
    ) -> None:
        """``backend``/``context`` let tests and the demo inject a ready service layer;
        ``clock`` freezes time for tests and snapshots; ``keymap`` remaps binding ids."""
        super().__init__()
        self.connection = connection
        self.hub = ServiceHub(connection, backend=backend, context=context)
        self.clock: Clock = clock or SystemClock()
        self.cursor_blink = cursor_blink
        self._start_command = start_command
        self._keymap_overrides = dict(keymap or {})
        self._theme_problems: list[str] = []
        self._recent_errors: dict[str, float] = {}
        self._register_themes()
        self._requested_theme = theme_name
        self.theme = self._pick_theme(theme_name)

    # -- themes ----------------------------------------------------------------------------
    def _register_themes(self) -> None:
        for theme in builtin_themes().values():
            self.register_theme(theme)
        loaded = user_themes()
        for theme in loaded.themes.values():
            self.register_theme(theme)
        self._theme_problems = loaded.problems

    def _pick_theme(self, name: str | None) -> str:
        if name and name in self.available_themes:
            return name
        if name:
            self._theme_problems.append(
                f"There is no theme '{name}'; using '{DEFAULT_THEME}'. Try :theme to list them."
            )
        return DEFAULT_THEME

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return state_variable_defaults(self.current_theme)

    # -- start-up --------------------------------------------------------------------------
    def on_mount(self) -> None:
        for problem in self._theme_problems:
            self.notify(problem, title="Theme", severity="warning", markup=False)
        if self._keymap_overrides:
            from aiconsole.tui.keymap import apply_keymap

            for problem in apply_keymap(self, self._keymap_overrides):
                self.notify(problem, title="Keymap", severity="warning", markup=False)
        from aiconsole.tui.screens.signin import install_prompts

        self._restore_prompts = install_prompts(self)
        self.run_command(self._start_command)
        # Build the backend (imports the SDK) off the UI thread while the first frame paints.
        self.run_worker(self._warm_up, thread=True, exit_on_error=False, group="connect", name="connect")

    def on_unmount(self) -> None:
        restore = getattr(self, "_restore_prompts", None)
        if restore is not None:
            restore()
        self.hub.close()

    def _warm_up(self) -> None:
        try:
            self.hub.context()
        except Exception as exc:  # noqa: BLE001 - shown as a sentence, never a traceback
            self.call_from_thread(self.show_error, exc, "Cannot connect")

    # -- errors ----------------------------------------------------------------------------
    def show_error(self, exc: BaseException, context: str | None = None) -> None:
        """A domain error as one sentence and a hint; anything else as a type name, no traceback.

        The same sentence is not repeated within a few seconds: when the service is unreachable,
        the connection worker and every loading screen fail together with the same cause.
        """
        import time

        from aiconsole.tui.errors import describe

        message = describe(exc)[0]
        now = time.monotonic()
        last = self._recent_errors.get(message)
        if last is not None and now - last < ERROR_REPEAT_SECONDS:
            return
        self._recent_errors[message] = now
        notify_error(self, exc, context=context)

    def handle_bindings_clash(self, clashed_bindings: set[Binding], node) -> None:
        keys = ", ".join(sorted(b.key for b in clashed_bindings))
        self.notify(f"Your keymap gives {keys} to more than one action here.", title="Keymap",
                    severity="warning", markup=False)

    # -- navigation ------------------------------------------------------------------------
    def run_command(self, text: str) -> None:
        """Run one ``:`` command (``subs``, ``subs ARG``, ``theme NAME``, ``help``, ``q``)."""
        from aiconsole.tui.screens import APP_COMMANDS, PLANNED, resolve

        word, _, argument = text.strip().lstrip(":").strip().partition(" ")
        word = word.lower()
        argument = argument.strip()
        if not word:
            return
        if word in ("q", "quit", "q!"):
            self.exit(0)
            return
        if word == "help":
            self.action_help()
            return
        if word == "theme":
            self.switch_theme(argument)
            return
        command = resolve(word)
        if command is not None:
            self.goto(command.name, argument)
            return
        if word in PLANNED:
            self.notify(f":{word} ({PLANNED[word]}) is not part of this version yet.", severity="warning",
                        markup=False)
            return
        from aiconsole.tui.screens import REGISTRY

        known = ", ".join(f":{w}" for w in [*REGISTRY, "theme", "help", "q"] if w in REGISTRY or w in APP_COMMANDS)
        self.notify(f"Unknown command ':{sanitize(word, max_length=30)}'. Try {known}.", severity="warning",
                    markup=False)

    def goto(self, name: str, argument: str = "") -> None:
        """Show the screen of command ``name``: back to it if it is in the stack, else push it."""
        from aiconsole.tui.screens import REGISTRY

        command = REGISTRY[name]
        try:
            screen_cls = command.load()
        except (ImportError, AttributeError) as exc:
            self.notify(f"The :{name} screen could not be loaded ({type(exc).__name__}).", severity="error",
                        markup=False)
            return
        if not argument:
            for screen in reversed(self.screen_stack):
                if type(screen) is screen_cls:
                    while self.screen is not screen:
                        self.pop_screen()
                    return
        self.push_screen(screen_cls.from_command(argument))

    def switch_connection(self, connection: Any, *, backend: Any = None) -> None:
        """Point the console at another service (``:ctx``): a new hub, screens rebuilt from the start.

        Old screens are removed, which cancels their workers; nothing they fetched is reused,
        because it belongs to the other service. The old connection's metrics sources are
        closed: the live screens open fresh ones for the new connection.
        """
        old_hub = self.hub
        self.connection = connection
        self.hub = ServiceHub(connection, backend=backend)
        old_hub.close()
        self._recent_errors.clear()
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self.run_command(self._start_command)
        self.run_worker(self._warm_up, thread=True, exit_on_error=False, group="connect", name="connect")
        self.notify(f"Connected to {connection.label}.", title="Profile", markup=False)

    def go_back(self) -> None:
        """``esc``: leave the current screen unless it is the last one."""
        if len(self.screen_stack) > 2:
            self.pop_screen()
        else:
            self.notify("This is the first screen; q quits.", timeout=2, markup=False)

    def switch_theme(self, name: str) -> None:
        if not name:
            names = ", ".join(sorted(self.available_themes))
            self.notify(f"Themes: {names}", title="Theme", timeout=10, markup=False)
            return
        if name not in self.available_themes:
            self.notify(f"There is no theme '{name}'. Type :theme to list them.", severity="warning",
                        markup=False)
            return
        self.theme = name

    # -- actions ---------------------------------------------------------------------------
    def action_command_bar(self) -> None:
        screen = self.screen
        opener = getattr(screen, "open_command_bar", None)
        if opener is not None:
            opener()

    def action_help(self) -> None:
        from aiconsole.tui.screens.help import HelpScreen

        screen = self.screen
        if isinstance(screen, HelpScreen):
            return
        self.push_screen(HelpScreen(_screen_title(screen), help_rows(screen)))


def _screen_title(screen: Screen) -> str:
    return getattr(screen, "SCREEN_TITLE", "") or type(screen).__name__


def help_rows(screen: Screen) -> list[tuple[str, str, str, str]]:
    """(keys, description, id, where) for every remappable binding active on ``screen``.

    Only bindings with an id are listed: those are the ones a user keymap can change. The
    screen's own keys come first, then its widgets', then the app-wide ones.
    """
    app = screen.app
    keys_by_id: dict[str, list[str]] = {}
    found: dict[str, tuple[Binding, Any]] = {}
    for active in screen.active_bindings.values():
        binding = active.binding
        if not binding.id:
            continue
        keys_by_id.setdefault(binding.id, []).append(app.get_key_display(binding))
        found.setdefault(binding.id, (binding, active.node))

    def where(node: Any) -> str:
        if node is app:
            return "app"
        if node is screen:
            return "screen"
        return getattr(node, "HELP_GROUP", type(node).__name__)

    order = {"screen": 0, "app": 2}
    rows = [
        (" ".join(dict.fromkeys(keys_by_id[ident])), binding.tooltip or binding.description or binding.action, ident,
         where(node))
        for ident, (binding, node) in found.items()
    ]
    rows.sort(key=lambda r: order.get(r[3], 1))
    return rows
