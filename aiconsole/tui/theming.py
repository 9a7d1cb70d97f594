"""Themes as files: the built-in ones in ``aiconsole/themes/``, the user's in
``$XDG_CONFIG_HOME/aiconsole/themes/``, each validated into a ``textual.theme.Theme``.

Keeping themes as data lets operators add a skin for their terminal without touching code (the
way k9s skins and posting themes work). A broken user theme is reported and skipped, never fatal:
the console must still open at 03:00.

Besides Textual's colours, a theme may set the state variables the tables use (``aic-ok``,
``aic-warn``, ``aic-throttled``, ``aic-expired``, ``aic-stale``, ``aic-muted``); themes that do not
(Textual's own, e.g. ``ansi-dark``) get them derived from their success/warning/error colours.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from textual.color import Color, ColorParseError
from textual.theme import Theme

DEFAULT_THEME = "dark"

#: the app's own theme variables: every one must have a fallback (see ``state_variable_defaults``)
STATE_VARIABLES = (
    "aic-ok",
    "aic-warn",
    "aic-throttled",
    "aic-expired",
    "aic-stale",
    "aic-muted",
    "aic-badge-readonly",
    "aic-badge-production",
)

_COLOR_FIELDS = ("primary", "secondary", "warning", "error", "success", "accent", "foreground",
                 "background", "surface", "panel", "boost")
_FIELDS = {"name", "dark", "luminosity_spread", "text_alpha", "variables", "ansi", *_COLOR_FIELDS}


class ThemeFileError(ValueError):
    """A theme file is not valid; the message names the file and the field."""


@dataclass
class ThemeLoad:
    """Themes found plus one sentence per file that could not be used."""

    themes: dict[str, Theme]
    problems: list[str]


def _check_color(path: str, field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ThemeFileError(f"{path}: '{field}' must be a colour string, not {type(value).__name__}.")
    try:
        Color.parse(value)
    except ColorParseError:
        raise ThemeFileError(f"{path}: '{field}' = {value!r} is not a colour.") from None
    return value


def theme_from_mapping(data: dict[str, Any], *, source: str, default_name: str) -> Theme:
    """Validate a parsed theme file into a ``Theme``; raises ``ThemeFileError`` naming the field."""
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise ThemeFileError(f"{source}: unknown field(s) {', '.join(unknown)}.")
    name = data.get("name", default_name)
    if not isinstance(name, str) or not name.strip():
        raise ThemeFileError(f"{source}: 'name' must be a non-empty string.")
    if "primary" not in data:
        raise ThemeFileError(f"{source}: 'primary' is required.")
    kwargs: dict[str, Any] = {"name": name.strip()}
    for field in _COLOR_FIELDS:
        if field in data:
            kwargs[field] = _check_color(source, field, data[field])
    for flag in ("dark", "ansi"):
        if flag in data:
            if not isinstance(data[flag], bool):
                raise ThemeFileError(f"{source}: '{flag}' must be true or false.")
            kwargs[flag] = data[flag]
    for number in ("luminosity_spread", "text_alpha"):
        if number in data:
            value = data[number]
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
                raise ThemeFileError(f"{source}: '{number}' must be a number between 0 and 1.")
            kwargs[number] = float(value)
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise ThemeFileError(f"{source}: [variables] must be a table.")
    clean: dict[str, str] = {}
    for key, value in variables.items():
        if not isinstance(value, str):
            raise ThemeFileError(f"{source}: variable '{key}' must be a string.")
        if key in STATE_VARIABLES or key.endswith(("-background", "-foreground", "-color")):
            _check_color(source, f"variables.{key}", value)
        clean[key] = value
    kwargs["variables"] = clean
    return Theme(**kwargs)


def load_theme_file(path: Path) -> Theme:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ThemeFileError(f"{path}: not valid TOML ({exc}).") from None
    except OSError as exc:
        raise ThemeFileError(f"{path}: cannot be read ({exc.strerror}).") from None
    return theme_from_mapping(data, source=str(path), default_name=path.stem)


def builtin_themes() -> dict[str, Theme]:
    """The themes shipped in ``aiconsole/themes/*.toml`` (a broken one is a bug: it raises)."""
    out: dict[str, Theme] = {}
    folder = resources.files("aiconsole") / "themes"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            data = tomllib.loads(entry.read_text(encoding="utf-8"))
            theme = theme_from_mapping(data, source=f"aiconsole/themes/{entry.name}", default_name=entry.name[:-5])
            out[theme.name] = theme
    return out


def user_themes_dir() -> Path:
    from aiconsole.config.paths import config_dir

    return config_dir() / "themes"


def user_themes(folder: Path | None = None) -> ThemeLoad:
    """Themes from the user's folder; broken files are reported, not raised."""
    folder = folder or user_themes_dir()
    themes: dict[str, Theme] = {}
    problems: list[str] = []
    if folder.is_dir():
        for path in sorted(folder.glob("*.toml")):
            try:
                theme = load_theme_file(path)
            except ThemeFileError as exc:
                problems.append(str(exc))
                continue
            themes[theme.name] = theme
    return ThemeLoad(themes, problems)


def state_variable_defaults(theme: Theme) -> dict[str, str]:
    """Fallbacks for the state variables, taken from the theme's own semantic colours.

    For Textual's ``ansi-*`` themes this yields ANSI colour names, so the terminal's palette is
    used; for every theme the tables still print a glyph beside each state.
    """
    ok = theme.success or "green"
    warn = theme.warning or "yellow"
    bad = theme.error or "red"
    muted = "ansi_bright_black" if theme.ansi else ("#808080")
    return {
        "aic-ok": ok,
        "aic-warn": warn,
        "aic-throttled": bad,
        "aic-expired": theme.accent or warn,
        "aic-stale": muted,
        "aic-muted": muted,
        "aic-badge-readonly": theme.primary,
        "aic-badge-production": bad,
    }
