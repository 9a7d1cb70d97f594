"""``ConsoleHeader``: one line saying where you are connected and how old the data is.

The connection label and the READ-ONLY / PRODUCTION badges come from the connection flags, so
an operator always sees which instance a keystroke will change. The badges are words, not just
colours (NO_COLOR and monochrome terminals). Data age comes from the screen, because each view
loads its own data; cloud data lags, and we say so rather than pretend it is live.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from aiconsole.domain.text import sanitize


class ConsoleHeader(Widget):
    COMPONENT_CLASSES = {
        "console-header--app",
        "console-header--readonly",
        "console-header--production",
        "console-header--age",
        "console-header--title",
    }

    DEFAULT_CSS = """
    ConsoleHeader { dock: top; height: 1; background: $panel; color: $foreground; }
    ConsoleHeader > .console-header--app { text-style: bold; color: $primary; }
    ConsoleHeader > .console-header--title { text-style: bold; }
    ConsoleHeader > .console-header--readonly { background: $aic-badge-readonly; color: $background; text-style: bold; }
    ConsoleHeader > .console-header--production { background: $aic-badge-production; color: $background; text-style: bold; }
    ConsoleHeader > .console-header--age { color: $text-muted; }
    """

    def on_mount(self) -> None:
        self.set_interval(1.0, self.refresh, name="header-age")

    def render(self) -> Text:
        app = self.app
        conn = getattr(app, "connection", None)
        width = self.size.width
        left = Text(no_wrap=True, overflow="ellipsis", end="")
        left.append(" aiconsole ", self.get_component_rich_style("console-header--app"))
        title = getattr(self.screen, "SCREEN_TITLE", "")
        if title:
            left.append(f"{title} ", self.get_component_rich_style("console-header--title"))
        badges = Text(end="")
        if conn is not None and conn.read_only:
            badges.append(" ")
            badges.append(" READ-ONLY ", self.get_component_rich_style("console-header--readonly"))
        if conn is not None and conn.production:
            badges.append(" ")
            badges.append(" ⚠ PRODUCTION ", self.get_component_rich_style("console-header--production"))
        age_fn = getattr(self.screen, "data_age_label", None)
        age = Text(f" {age_fn() if age_fn else ''} ", self.get_component_rich_style("console-header--age"), end="")
        label = sanitize(conn.label if conn is not None else "", max_length=200)
        # The connection label gets whatever room is left; badges and data age always show.
        room = width - left.cell_len - badges.cell_len - age.cell_len - 2
        if room >= 4:
            left.append("│ ", self.get_component_rich_style("console-header--age"))
            left.append(label if len(label) <= room else label[: room - 1] + "…")
        line = left + badges
        line.append(" " * max(0, width - line.cell_len - age.cell_len))
        line.append_text(age)
        line.truncate(width, overflow="ellipsis")
        return line
