"""``aiconsole top``: tokens/min, requests/min and refusals per subscription, against the limit.

``--once`` prints one reading (``-o json``: an array, one object per row, see ``TopRow.as_json``)
and exits; with Prometheus a reading needs two scrapes, ``--interval`` apart. Without
``--once`` on a terminal it refreshes in place like ``top`` (plain ANSI, no Textual); piped,
it prints one block (or one JSON array per line) per refresh. Ctrl-C stops it.
"""

from __future__ import annotations

import argparse

BY = ("subscription", "product", "api")
SORTS = ("throttling", "tokens", "utilisation", "requests", "name")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of seconds") from None
    if not 0.2 <= value <= 3600:
        raise argparse.ArgumentTypeError("an interval is between 0.2 and 3600 seconds")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("top", help="live token throughput and throttling per subscription, product or API",
                       description="Live tokens/min, requests/min, 429s and 403s per subscription (or product, or "
                       "API) against the limit that binds it. Prometheus data is a few seconds old; Azure Monitor "
                       "data about a minute.")
    p.add_argument("--by", choices=BY, default="subscription", help="one row per subscription (default), product or API")
    p.add_argument("--once", action="store_true", help="print one reading and exit")
    p.add_argument("--interval", type=_seconds, default=None, metavar="S",
                   help="seconds between refreshes (default 2; with --once: between the two scrapes)")
    p.add_argument("--window", default="1m", metavar="W", help="rates over this window: 30s, 1m, 5m, 15m (default 1m)")
    p.add_argument("--source", choices=("prometheus", "monitor"), default=None,
                   help="metrics source (default: prometheus for sandboxes and self-hosted gateways, else monitor)")
    p.add_argument("--monitor-endpoint", metavar="URL", default=None,
                   help="Azure Monitor regional endpoint, e.g. https://westeurope.metrics.monitor.azure.com")
    p.add_argument("--sort", choices=SORTS, default="throttling", help="row order (default: throttling first)")
    p.add_argument("--limits", type=int, default=25, metavar="N",
                   help="read the binding limit of the first N rows (each is a few management calls; default 25)")
    p.add_argument("--rows", type=int, default=None, metavar="N", help="print at most N rows")
    p.set_defaults(handler=run)


def _triage(ctx):
    from aiconsole.services.triage import TriageService
    from aiconsole.telemetry.select import build_source

    source = build_source(ctx.connection, ctx.args.source, now=ctx.services.now,
                          monitor_endpoint=ctx.args.monitor_endpoint)
    return source, TriageService.for_context(source, ctx.services, connection=ctx.connection,
                                             lookups_per_poll=max(0, ctx.args.limits))


def run(ctx) -> int:
    import sys
    import time

    from aiconsole.services.triage import parse_window

    args = ctx.args
    window = parse_window(args.window)
    interval = args.interval or 2.0
    source, triage = _triage(ctx)
    try:
        if args.once:
            if source.name == "prometheus":
                source.observe()
                time.sleep(interval)
            report = triage.poll(window, args.by)
            _emit(ctx, report, once=True)
            return 0
        live = sys.stdout.isatty() and not ctx.json
        if source.name == "prometheus":
            source.observe()
        first = True
        while True:
            started = time.monotonic()
            time.sleep(interval if first and source.name == "prometheus" else 0)
            first = False
            try:
                report = triage.poll(window, args.by)
            except Exception as exc:  # noqa: BLE001 - keep refreshing; say what failed
                from aiconsole.domain.errors import AiconsoleError

                if not isinstance(exc, AiconsoleError):
                    raise
                sys.stderr.write(f"stale: {exc.message}\n")
            else:
                _emit(ctx, report, once=False, live=live)
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
    except KeyboardInterrupt:
        if not args.once and sys.stdout.isatty():
            sys.stdout.write("\n")
        return 0
    finally:
        source.close()


def _emit(ctx, report, *, once: bool, live: bool = False) -> None:
    import sys

    from aiconsole.services.triage import sort_rows

    rows = sort_rows(report.rows, ctx.args.sort)
    if ctx.args.rows is not None:
        rows = rows[: max(0, ctx.args.rows)]
    if ctx.json:
        data = [r.as_json() for r in rows]
        if once:
            ctx.emit(data)
        else:
            from aiconsole.cli.output import to_json

            sys.stdout.write(to_json(data, indent=None) + "\n")
            sys.stdout.flush()
        return
    width = 120
    height = None
    if live:
        import shutil

        size = shutil.get_terminal_size((120, 40))
        width, height = size.columns, size.lines
    text = render_report(report, rows, width=width, height=height)
    if live:
        # Home, draw each line clearing its tail, clear below: no flicker, no scrollback spam.
        sys.stdout.write("\x1b[H" + "\x1b[K\n".join(text.splitlines()) + "\x1b[K\x1b[J")
    else:
        sys.stdout.write(text + "\n")
    sys.stdout.flush()


# -- plain-text rendering (no Textual; every server string sanitised) ---------------------------
COLUMNS = [("NAME", 24), ("TOK/MIN", 8), ("LAST 15M", 15), ("LIMIT", 7), ("USE", 10), ("429/M", 6),
           ("403/M", 6), ("REQ/M", 6), ("OWNER", 12), ("PRODUCT", 12)]


def row_cells(row) -> list[str]:
    """The cells of one row, in ``COLUMNS`` order."""
    from aiconsole.domain.text import sanitize
    from aiconsole.services.triage import format_rate
    from aiconsole.telemetry.glyphs import bar, sparkline

    lim = row.limit
    limit = format_rate(lim.tokens_per_minute) if lim and lim.tokens_per_minute else ("gone" if row.gone else "–")
    return [
        sanitize(row.key, max_length=40), format_rate(row.tokens_per_minute), sparkline(row.history),
        limit, bar(row.utilisation), format_rate(row.throttled_per_minute), format_rate(row.quota_refused_per_minute),
        format_rate(row.requests_per_minute), sanitize(row.owner, max_length=20), sanitize(row.product, max_length=20),
    ]


def render_report(report, rows, *, width: int = 120, height: int | None = None) -> str:
    from aiconsole.domain.text import sanitize
    from aiconsole.services.triage import window_label

    snap = report.snapshot
    lines = [
        f"aiconsole top · by {report.by} · {len(report.rows)} rows · window {window_label(snap.window_seconds or 0)} · "
        f"{snap.source} · {snap.age_label}",
        report.headline.text,
    ]
    lines += [f"! {sanitize(w, max_length=200)}" for w in snap.warnings]
    lines.append("")
    widths = [w for _, w in COLUMNS]
    lines.append(_fit(" ".join(t.ljust(w) for (t, _), w in zip(COLUMNS, widths)), width))
    budget = None if height is None else max(1, height - len(lines) - 1)
    for row in rows[:budget]:
        cells = row_cells(row)
        lines.append(_fit(" ".join(c[:w].ljust(w) if i in (0, 2, 4, 8, 9) else c[:w].rjust(w)
                                   for i, (c, w) in enumerate(zip(cells, widths))), width))
    return "\n".join(lines)


def _fit(line: str, width: int) -> str:
    return line[:width].rstrip()
