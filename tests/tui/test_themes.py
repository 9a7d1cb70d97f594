"""Theme files: the built-ins validate, user themes load from the XDG folder, broken ones are
reported by file and field instead of stopping the console."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiconsole.tui.theming import STATE_VARIABLES, ThemeFileError, builtin_themes, load_theme_file, user_themes


def test_builtin_themes_are_complete():
    themes = builtin_themes()
    assert {"dark", "light", "high-contrast", "colorblind-safe"} <= set(themes)
    for theme in themes.values():
        for var in ("aic-ok", "aic-warn", "aic-throttled", "aic-expired", "aic-stale"):
            assert var in theme.variables, (theme.name, var)
        assert set(theme.variables) >= set(STATE_VARIABLES) - {"aic-muted"}


def _luma(hex_color: str) -> float:
    from textual.color import Color

    return Color.parse(hex_color).brightness


def _deuteranopia(hex_color: str) -> tuple[float, float, float]:
    """Simulated deuteranope view (Viénot 1999 matrix on linear RGB)."""
    from textual.color import Color

    c = Color.parse(hex_color)

    def lin(v: int) -> float:
        v = v / 255
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = lin(c.r), lin(c.g), lin(c.b)
    return (0.29275 * r + 0.70725 * g, 0.29275 * r + 0.70725 * g, -0.02234 * r + 0.02234 * g + b)


def test_colorblind_safe_theme_separates_ok_from_throttled_for_deuteranopes():
    theme = builtin_themes()["colorblind-safe"]
    ok = _deuteranopia(theme.variables["aic-ok"])
    bad = _deuteranopia(theme.variables["aic-throttled"])
    distance = sum((a - b) ** 2 for a, b in zip(ok, bad)) ** 0.5
    assert distance > 0.25, distance


def test_user_theme_loads_from_the_config_folder():
    from aiconsole.config.paths import config_dir

    folder = config_dir() / "themes"
    folder.mkdir(parents=True)
    (folder / "mine.toml").write_text('name = "mine"\nprimary = "#ff00ff"\n[variables]\naic-ok = "#00ff00"\n')
    (folder / "broken.toml").write_text('name = "broken"\nprimary = "not-a-colour"\n')
    loaded = user_themes()
    assert set(loaded.themes) == {"mine"}
    assert len(loaded.problems) == 1 and "broken.toml" in loaded.problems[0] and "primary" in loaded.problems[0]


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("primary = 1", "'primary' must be a colour"),
        ('name = "x"', "'primary' is required"),
        ('primary = "#fff"\nbogus = 1', "unknown field"),
        ('primary = "#fff"\ndark = "yes"', "'dark' must be true or false"),
        ('primary = "#fff"\n[variables]\naic-ok = "nope"', "variables.aic-ok"),
        ("primary = [", "not valid TOML"),
    ],
)
def test_broken_theme_files_name_the_problem(tmp_path: Path, text, fragment):
    path = tmp_path / "t.toml"
    path.write_text(text)
    with pytest.raises(ThemeFileError) as err:
        load_theme_file(path)
    assert fragment in str(err.value)
    assert str(path) in str(err.value)
