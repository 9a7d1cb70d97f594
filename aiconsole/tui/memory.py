"""Keeping the garbage collector off the UI loop while big lists load.

A subscriptions table at 100,000 rows holds millions of small objects that live as long as the
screen. CPython's full collections rescan all of them, and each scan holds the GIL for hundreds
of milliseconds — long enough to freeze the console while pages stream in (measured: 0.65 s
stalls at 100k, 0.1 s without). Rows that have reached the table are long-lived by design, so
after each page the screen moves everything allocated so far out of the collector's reach
(``gc.freeze``); a reload gives it back (``gc.unfreeze``) so the old rows can be freed.
"""

from __future__ import annotations

import gc


def settle_long_lived() -> None:
    """Call after long-lived data (a page of rows) has been stored."""
    gc.freeze()


def release_long_lived() -> None:
    """Call before replacing that data, so what it drops can be collected again."""
    gc.unfreeze()
