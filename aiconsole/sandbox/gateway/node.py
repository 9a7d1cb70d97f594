"""Node mode: the data plane acting as one self-hosted gateway node (``--node-of GW``).

A real node authenticates to its APIM instance with a ``GatewayKey`` token; once the token
expires or the key that signed it is regenerated, the node can no longer sync and reports
itself unhealthy. Here the token is checked against the state's current gateway keys and the
sandbox clock on every health probe (two HMACs, cheap), so regenerating a key or moving the
clock past the expiry turns the node degraded at once, with no background task.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from aiconsole.sandbox.state import SandboxState


@dataclass(frozen=True)
class NodeHealth:
    healthy: bool
    reason: str  # "valid" | "expired" | "bad-signature" | "malformed" | "unknown-gateway" | "wrong-gateway"
    gateway_id: str
    key_type: str | None
    expires: datetime | None

    def body(self) -> dict:
        """What the status endpoint answers (no token material)."""
        return {
            "status": "healthy" if self.healthy else "degraded",
            "gateway": self.gateway_id,
            "reason": self.reason,
            "tokenKeyType": self.key_type,
            "tokenExpires": self.expires.isoformat().replace("+00:00", "Z") if self.expires else None,
        }


class NodeMonitor:
    """Holds the node's token (never logged) and judges it against the state on demand."""

    def __init__(self, state: SandboxState, gateway_id: str, token: str) -> None:
        self.state = state
        self.gateway_id = gateway_id
        self._token = token

    def __repr__(self) -> str:  # keep the token out of any repr / log line
        return f"NodeMonitor(gateway_id={self.gateway_id!r})"

    def set_token(self, token: str) -> None:
        """Deploy a new token to this node (what an operator does after minting one)."""
        self._token = token

    def api_ids(self) -> set[str] | None:
        """The APIs assigned to the gateway entity: the only ones a node serves."""
        with self.state.lock:
            gw = self.state.gateways.get(self.gateway_id)
            return {a.lower() for a in gw.api_ids} if gw is not None else None

    def health(self) -> NodeHealth:
        check = self.state.verify_gateway_token(self._token)
        if check.ok and (check.gateway_id or "").lower() != self.gateway_id.lower():
            return NodeHealth(False, "wrong-gateway", self.gateway_id, check.key_type, check.expires)
        return NodeHealth(check.ok, check.reason, self.gateway_id, check.key_type, check.expires)

    def gauges(self) -> list[tuple[str, str, dict[str, str], float]]:
        """Prometheus gauges: node health (1/0) and the token's expiry time."""
        h = self.health()
        labels = {"gateway_id": self.gateway_id}
        out = [("aiconsole_sandbox_node_healthy", "1 while the node's gateway token verifies, else 0", {**labels, "reason": h.reason}, 1.0 if h.healthy else 0.0)]
        if h.expires is not None:
            out.append(("aiconsole_sandbox_node_token_expiry_timestamp_seconds", "Expiry of the node's gateway token (epoch seconds)", labels, h.expires.timestamp()))
        return out
