"""The guided gateway token rotation (J4) as a resumable state machine.

Regenerating a gateway key kills every token minted from it at once, so a safe rotation is:
mint a token from the slot the nodes do NOT use, let the operator deploy it, check that every
configured node is healthy, and only then regenerate the old slot. People get interrupted
between those steps (the deploy can take a change window), so the phase is saved under the
state directory — metadata only, never the token — and the next run resumes where it stopped.

Phases: ``minted`` (token handed over, waiting for the deploy) → ``deployed`` (operator said
so; nodes checked) → ``done`` (old slot regenerated).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiconsole.config import paths
from aiconsole.domain.errors import AiconsoleError, ConnectionFailedError, UsageError
from aiconsole.services.gateways import (
    GatewayService,
    MintedToken,
    RegenerateResult,
    other_slot,
    parse_slot,
)
from aiconsole.telemetry.node_health import NodeHealth, probe_nodes


def rotations_dir() -> Path:
    return paths.state_dir() / "gateway-rotations"


@dataclass
class RotationState:
    """What a rotation in progress remembers between runs (fingerprints, never tokens)."""

    instance: str
    gateway: str
    old_slot: str
    new_slot: str
    phase: str  # minted | deployed | done
    started: str
    fingerprint: str
    expires: str
    nodes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _state_path(instance: str, gateway: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{instance}__{gateway}")
    return rotations_dir() / f"{safe}.json"


def load_state(instance: str, gateway: str) -> RotationState | None:
    try:
        data = json.loads(_state_path(instance, gateway).read_text(encoding="utf-8"))
        return RotationState(**data)
    except (OSError, ValueError, TypeError):
        return None


def save_state(state: RotationState) -> None:
    """Atomic write (temp file + rename) so an interrupted save never leaves half a state."""
    path = _state_path(state.instance, state.gateway)
    paths.ensure_private_dir(path.parent)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(state.as_json(), fh, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def clear_state(instance: str, gateway: str) -> None:
    try:
        _state_path(instance, gateway).unlink()
    except FileNotFoundError:
        pass


@dataclass
class WaitResult:
    healthy: bool
    nodes: list[NodeHealth]
    attempts: int


class GatewayRotation:
    """Drives one gateway's rotation; the CLI runs it headless, the TUI step by step."""

    def __init__(self, service: GatewayService, gateway: str) -> None:
        self.service = service
        self.gateway = gateway
        self.state = load_state(service.instance, gateway)
        if self.state is not None and self.state.phase == "done":
            self.state = None

    @property
    def phase(self) -> str:
        return self.state.phase if self.state else "new"

    def observe(self, nodes: list[str]) -> str | None:
        """The key slot every reporting node's token comes from, when they say and agree."""
        return observed_slot(probe_nodes(nodes)) if nodes else None

    def plan(self, from_slot: str | None = None, observed: str | None = None) -> tuple[str, str]:
        """(old slot, new slot): the old one is what the nodes run now — as the user says, as
        the nodes report, or else as the ledger remembers (the newest live token)."""
        if self.state is not None:
            return self.state.old_slot, self.state.new_slot
        if from_slot:
            old = parse_slot(from_slot)
        elif observed:
            old = parse_slot(observed)
        else:
            record, state, _ = self.service.token_status(self.gateway, verify=False)
            if record is None or state not in ("valid", "expiring"):
                raise UsageError(
                    f"The console knows no live token of '{self.gateway}', so it cannot tell which key slot the nodes use.",
                    "Say which slot the deployed token came from with --from-slot primary|secondary.")
            old = record.slot
        return old, other_slot(old)

    def mint(self, *, from_slot: str | None = None, expiry: str | None = None, reason: str | None = None,
             confirm_name: str | None = None, nodes: list[str] | None = None,
             observed: str | None = None) -> MintedToken:
        """Step 1: mint from the other slot and save the phase. On resume it mints a fresh twin,
        because the earlier token's value was never kept anywhere."""
        self.service.get(self.gateway)
        old, new = self.plan(from_slot, observed)
        token = self.service.mint(self.gateway, new, expiry, reason=reason, confirm_name=confirm_name)
        self.state = RotationState(
            instance=self.service.instance, gateway=self.gateway, old_slot=old, new_slot=new, phase="minted",
            started=datetime.now(UTC).isoformat(timespec="seconds"), fingerprint=token.fingerprint,
            expires=token.expires.isoformat(), nodes=list(nodes or []),
        )
        save_state(self.state)
        return token

    def wait_healthy(self, nodes: list[str], *, attempts: int = 60, interval: float = 2.0,
                     wait: Callable[[float], None] | None = None,
                     on_probe: Callable[[list[NodeHealth]], None] | None = None) -> WaitResult:
        """Step 2: bounded polling until every node reports healthy (no nodes: trivially true).

        A node that says which key slot its token comes from must also be on the new slot: a
        healthy node still running the old token would die at the regeneration.
        """
        import time

        wait = wait or time.sleep
        want = self.state.new_slot if self.state is not None else None
        results: list[NodeHealth] = []
        for attempt in range(1, max(1, attempts) + 1):
            results = probe_nodes(nodes) if nodes else []
            if on_probe is not None:
                on_probe(results)
            if all(node_ready(n, want) for n in results):
                return WaitResult(True, results, attempt)
            if attempt < attempts:
                wait(interval)
        return WaitResult(False, results, attempts)

    def mark_deployed(self) -> None:
        if self.state is None:
            raise UsageError(f"No rotation of '{self.gateway}' is in progress.", "Start one with `aiconsole gateways rotate GW`.")
        self.state.phase = "deployed"
        save_state(self.state)

    def check_new_token(self) -> None:
        """Before killing the old slot, make sure the token we handed over still works."""
        assert self.state is not None
        record = next((r for r in self.service.ledger.tokens(self.service.instance, self.gateway)
                       if r.fingerprint == self.state.fingerprint), None)
        if record is None:
            return
        if record.state(self.service.clock()) not in ("valid", "expiring") or self.service.verify_record(record) is False:
            raise AiconsoleError(
                f"The token minted for this rotation (fingerprint {record.fingerprint}) no longer works; "
                f"the {self.state.old_slot} key was NOT regenerated.",
                "Start over: run the rotation again to mint a fresh token.")

    def finish(self, *, reason: str | None = None, confirm_name: str | None = None,
               nodes: list[str] | None = None) -> tuple[RegenerateResult, list[NodeHealth]]:
        """Step 3: regenerate the old slot, then probe the nodes again to prove they survived."""
        if self.state is None:
            raise UsageError(f"No rotation of '{self.gateway}' is in progress.", "Start one with `aiconsole gateways rotate GW`.")
        self.check_new_token()
        result = self.service.regenerate(self.gateway, self.state.old_slot, reason=reason, confirm_name=confirm_name)
        self.state.phase = "done"
        save_state(self.state)
        after = probe_nodes(nodes) if nodes else []
        clear_state(self.service.instance, self.gateway)
        return result, after


def observed_slot(nodes: list[NodeHealth]) -> str | None:
    """The slot all nodes that report one agree on; None when none reports or they disagree."""
    slots = {n.token_slot for n in nodes if n.token_slot}
    return slots.pop() if len(slots) == 1 else None


def node_ready(node: NodeHealth, new_slot: str | None) -> bool:
    """Healthy, and not known to run a token from another slot than the new one."""
    return node.healthy and (new_slot is None or node.token_slot in (None, new_slot))


def unhealthy_error(nodes: list[NodeHealth], old_slot: str) -> ConnectionFailedError:
    new_slot = other_slot(old_slot)
    bad = ", ".join(
        f"{n.url} ({n.status if not n.healthy else f'still runs a token from the {n.token_slot} key'})"
        for n in nodes if not node_ready(n, new_slot))
    return ConnectionFailedError(
        f"Not every node is ready (healthy, on the {new_slot} key): {bad}; the {old_slot} key was NOT regenerated.",
        "Deploy the new token to those nodes (or fix them), then run the rotation again with --deployed.")
