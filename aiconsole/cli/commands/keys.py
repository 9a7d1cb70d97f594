"""``aiconsole keys``: show (masked unless ``--reveal``) and rotate subscription keys.

``keys rotate SID --slot S`` regenerates one slot (the old key stops working at once).
``keys rotate SID --two-slot`` runs the safe procedure of journey J3 as a resumable state
machine; ``keys rotate --filter EXPR --slot S`` regenerates one slot of many subscriptions.
"""

from __future__ import annotations

import argparse
import os
import sys


def add_write_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--yes", action="store_true", help="do it without asking")
    p.add_argument("--confirm", metavar="SERVICE", help="the service name, required on production profiles")
    p.add_argument("--reason", metavar="TEXT", help="reason or ticket, recorded in the audit journal")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("keys", help="show and rotate subscription keys")
    actions = p.add_subparsers(dest="keys_command", metavar="ACTION", required=True)

    show = actions.add_parser("show", help="the two keys of a subscription, masked unless --reveal")
    show.add_argument("sid", metavar="SID")
    show.add_argument("--reveal", action="store_true", help="print the keys in clear")
    show.set_defaults(handler=run_show)

    rotate = actions.add_parser(
        "rotate", help="regenerate one key slot (the old key stops working at once), or --two-slot, or --filter")
    rotate.add_argument("sid", metavar="SID", nargs="?")
    rotate.add_argument("--slot", choices=["primary", "secondary"], help="the slot to regenerate")
    rotate.add_argument("--two-slot", action="store_true",
                        help="safe rotation: regenerate the idle slot, hand it over, wait, regenerate the old slot")
    rotate.add_argument("--in-use", choices=["primary", "secondary"],
                        help="with --two-slot: the slot consumers use now (inferred from telemetry when left out)")
    rotate.add_argument("--wait-idle", metavar="DURATION",
                        help="with --two-slot: wait until the old slot has had no calls for DURATION (e.g. 10m)")
    rotate.add_argument("--wait-timeout", metavar="DURATION",
                        help="with --wait-idle: give up (the rotation stays resumable) after DURATION")
    rotate.add_argument("--handover-only", action="store_true",
                        help="with --two-slot: stop after handing the new key over; run again to finish")
    rotate.add_argument("--show-keys", action="store_true", help="with --two-slot: print the new key in clear")
    rotate.add_argument("--slot-metrics", metavar="URL", default=os.environ.get("AICONSOLE_SLOT_METRICS_URL"),
                        help="Prometheus endpoint with per-slot call counters (env AICONSOLE_SLOT_METRICS_URL; "
                             "the sandbox's is found by itself)")
    rotate.add_argument("--poll-interval", metavar="DURATION", help=argparse.SUPPRESS)
    rotate.add_argument("--filter", dest="expr", metavar="EXPR",
                        help="bulk: product:ID owner:USER state:S name~TEXT (combine with spaces or commas)")
    rotate.add_argument("--dry-run", action="store_true", help="with --filter: print what would change")
    rotate.add_argument("--concurrency", type=int, default=8, choices=range(1, 33), metavar="N",
                        help="with --filter: parallel requests (8; 1-32)")
    rotate.add_argument("--max-writes-per-second", type=float, default=10.0, metavar="R",
                        help="with --filter: ARM write budget (10/s after a burst of 200; 0 = only honour 429)")
    rotate.add_argument("--restart", action="store_true",
                        help="with --filter: discard an unfinished run instead of resuming it")
    add_write_flags(rotate)
    rotate.set_defaults(handler=run_rotate)

    rotations = actions.add_parser("rotations", help="unfinished two-slot rotations (json: name, step, slots, ...)")
    rotations.set_defaults(handler=run_rotations)

    slots = actions.add_parser("slots", help="calls per key slot of a subscription, from telemetry")
    slots.add_argument("sid", metavar="SID")
    slots.add_argument("--slot-metrics", metavar="URL", default=os.environ.get("AICONSOLE_SLOT_METRICS_URL"),
                       help="Prometheus endpoint with per-slot call counters (the sandbox's is found by itself)")
    slots.set_defaults(handler=run_slots)


def _service(ctx):
    from aiconsole.services.subscriptions import SubscriptionService

    return SubscriptionService(ctx.services)


def run_show(ctx) -> int:
    keys = _service(ctx).keys(ctx.args.sid)
    ctx.emit(keys.revealed() if ctx.args.reveal else keys.masked())
    return 0


def run_rotate(ctx) -> int:
    from aiconsole.domain.errors import UsageError

    a = ctx.args
    if a.expr:
        if a.sid or a.two_slot:
            raise UsageError("--filter rotates one slot of many subscriptions; give no SID and no --two-slot.")
        if not a.slot:
            raise UsageError("Which slot?", "Give --slot primary|secondary with --filter.")
        from aiconsole.cli.commands.subs import run_bulk

        return run_bulk(ctx, "rotate", slot=a.slot, expr=a.expr, dry_run=a.dry_run)
    if not a.sid:
        raise UsageError("Which subscription?", "Give a SID, or --filter EXPR for many.")
    if a.dry_run:
        raise UsageError("--dry-run goes with --filter.")
    if a.two_slot:
        if a.slot:
            raise UsageError("--two-slot picks the slots itself; leave out --slot (use --in-use to say which is used).")
        return run_two_slot(ctx)
    if not a.slot:
        raise UsageError("Which slot?", "Give --slot primary|secondary, or --two-slot for the safe procedure.")
    service = _service(ctx)
    sub = service.get(a.sid)  # fail early (404) before asking anything
    label = f"{sub.name} ({sub.display_name})" if sub.display_name else sub.name
    question = f"Regenerate the {a.slot} key of {label}; the current {a.slot} key stops working at once"
    ctx.services.confirm_hook = lambda _record: ctx.confirm(question, yes=a.yes)
    result = service.rotate(a.sid, a.slot, reason=a.reason, confirm_name=ctx.confirm_name)
    ctx.emit(result.as_json())
    return 0


# --------------------------------------------------------------------------- two-slot


def _slot_usage(ctx):
    """Where per-slot call counts come from: --slot-metrics, or the sandbox's Prometheus endpoint."""
    from aiconsole.services.slot_usage import slot_usage_for

    return slot_usage_for(ctx.connection, ctx.args.slot_metrics)


def _say(text: str) -> None:
    from aiconsole.domain.text import sanitize

    sys.stderr.write(sanitize(text) + "\n")
    sys.stderr.flush()


def run_two_slot(ctx) -> int:
    from aiconsole.services import rotation as rot
    from aiconsole.services.durations import format_duration, parse_duration
    from aiconsole.services.slot_usage import infer_in_use, wait_until_idle

    a = ctx.args
    idle_for = parse_duration(a.wait_idle) if a.wait_idle else None
    timeout = parse_duration(a.wait_timeout) if a.wait_timeout else None
    tty = sys.stdin.isatty() and sys.stderr.isatty()
    machine = rot.TwoSlotRotation(ctx.services, a.sid, reason=a.reason, confirm_name=ctx.confirm_name,
                                  on_event=lambda e: _say(("  skipped: " if e.skipped else "  ") + e.message))
    usage = _slot_usage(ctx)
    if idle_for is not None and usage is None:
        from aiconsole.domain.errors import UsageError

        raise UsageError("--wait-idle needs per-slot call counts and none are configured.",
                         "Give --slot-metrics URL, or leave out --wait-idle and confirm by hand.")
    with machine.store.lock(a.sid):
        existing = machine.load()
        if existing is None:
            sub = ctx.services.backend.get_subscription(a.sid)  # 404 before asking anything
            if idle_for is None and not tty and not a.yes and not a.handover_only:
                from aiconsole.domain.errors import RefusedError

                raise RefusedError("Refusing to start a two-slot rotation without a way to know consumers moved.",
                                   "Give --wait-idle DURATION, --handover-only, or --yes to proceed without waiting.")
            label = f"{sub.name} ({sub.display_name})" if sub.display_name else sub.name
            ctx.confirm(f"Rotate both keys of {label}: the idle key first, then the one in use once consumers "
                        f"have moved", yes=a.yes)
        infer = (lambda: infer_in_use(usage, a.sid)) if usage is not None else None
        state = machine.start(a.in_use, infer=infer)
        machine.regenerate_new()
        keys = None
        if state.step in ("new_regenerated", "waiting"):
            keys = machine.new_key()
            shown = keys.key(state.new_slot).get_secret_value() if a.show_keys else keys.masked()[f"{state.new_slot}_key"]
            _say(f"New {state.new_slot} key for {a.sid}: {shown}  (move consumers to it"
                 + ("" if a.show_keys else f"; `aiconsole keys show {a.sid} --reveal` prints it") + ")")
            machine.begin_wait()
            if a.handover_only:
                ctx.emit(machine.summary(keys, show_keys=a.show_keys))
                return 0
            if idle_for is not None:
                poll = parse_duration(a.poll_interval).total_seconds() if a.poll_interval else \
                    max(1.0, min(15.0, idle_for.total_seconds() / 10))
                _say(f"Waiting until the {state.old_slot} key has had no calls for {format_duration(idle_for)}...")
                counts = wait_until_idle(usage, a.sid, state.old_slot, idle_for, poll=poll, timeout=timeout,
                                         sleep=_sleeper(), clock=_clock())
                machine.consumers_moved("telemetry", {"idle_for_seconds": idle_for.total_seconds(), "calls": counts})
            elif tty and not a.yes:
                sys.stderr.write(f"Have all consumers moved to the new {state.new_slot} key? [y/N] ")
                sys.stderr.flush()
                if sys.stdin.readline().strip().lower() not in ("y", "yes"):
                    _say("The old key was left as it is; run the same command again to continue.")
                    ctx.emit(machine.summary(keys, show_keys=a.show_keys))
                    return 0
                machine.consumers_moved("confirmed")
            else:
                machine.consumers_moved("--yes")
        machine.regenerate_old()
        if keys is None:
            keys = ctx.services.backend.list_secrets(a.sid)
        summary = machine.summary(keys, show_keys=a.show_keys)
        machine.finish()
    ctx.emit(summary)
    return 0


def _clock():
    import time

    return time.monotonic


def _sleeper():
    import time

    return time.sleep


def run_rotations(ctx) -> int:
    """The CLI twin of the console's rotation panel: what is recorded, step by step."""
    from aiconsole.services.rotation import RotationStore

    rows = [{"name": st.sid, "step": st.step, "in_use_before": st.old_slot, "new_slot": st.new_slot,
             "service": st.service, "started_at": st.started_at, "updated_at": st.updated_at,
             "rotation_id": st.rotation_id, "fingerprints": st.fingerprints}
            for st in RotationStore().active()]
    ctx.emit(rows, columns=["name", "step", "in_use_before", "new_slot", "service", "updated_at"])
    return 0


def run_slots(ctx) -> int:
    """The CLI twin of the console's per-slot calls panel."""
    from aiconsole.domain.errors import UsageError

    usage = _slot_usage(ctx)
    if usage is None:
        raise UsageError("No per-slot telemetry is configured for this connection.",
                         "Give --slot-metrics URL (see the two-slot rotation notes in the README).")
    counts = usage.calls_by_slot(ctx.args.sid)
    ctx.emit({"name": ctx.args.sid, "primary": counts.get("primary", 0), "secondary": counts.get("secondary", 0),
              "source": usage.url})
    return 0
