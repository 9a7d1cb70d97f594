"""Backends for the AI-gateway story: two model deployments behind a priority pool with breakers.

APIM models where traffic goes as *backend* entities: a single backend is one URL (a model
deployment), a pool lists single backends with a priority and weight, and each single backend
may carry circuit-breaker rules (trip after N failures in an interval, for a duration, or for
as long as the deployment's ``Retry-After`` says). The sandbox seeds:

- ``aoai-westeurope-ptu`` — a provisioned deployment with a small capacity (tokens per minute),
  so that the demo traffic saturates it, it answers 429 and its breaker trips;
- ``aoai-swedencentral-paygo`` — a pay-as-you-go deployment with a large capacity, the
  fail-over target; its ``api-key`` comes from a Key Vault named value;
- ``aoai-pool`` — the priority pool of the two (1, then 2), used by the ``chat-pool`` API.

The state's ``Backend`` entity knows only url/protocol/title; ``BackendEntity`` adds what the
2024-05-01 contract has (type, pool, circuitBreaker, credentials) plus the sandbox-only
``capacity_tpm`` of a simulated deployment. ``NamedValueEntity`` adds the Key Vault reference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiconsole.sandbox.state import Backend, NamedValue, SandboxState

PTU = "aoai-westeurope-ptu"
PAYGO = "aoai-swedencentral-paygo"
POOL = "aoai-pool"
PTU_CAPACITY_TPM = 400
PAYGO_CAPACITY_TPM = 500_000


@dataclass(slots=True)
class BackendEntity(Backend):
    """A backend with the fields of the 2024-05-01 contract the base entity lacks."""

    kind: str = "Single"  # Single | Pool
    pool: list[dict[str, Any]] = field(default_factory=list)  # [{"id": backend id, "priority", "weight"}]
    breaker_rules: list[dict[str, Any]] = field(default_factory=list)  # ARM CircuitBreakerRule shapes
    credentials: dict[str, Any] | None = None  # ARM BackendCredentialsContract shape
    resource_id: str | None = None
    capacity_tpm: int | None = None  # sandbox only: the simulated deployment's capacity


@dataclass(slots=True)
class NamedValueEntity(NamedValue):
    """A named value that may point at a Key Vault secret instead of holding its value."""

    key_vault_secret: str | None = None


def breaker_rule(name: str = "openai-breaker", *, count: int = 3, interval: str = "PT1M",
                 trip: str = "PT1M", accept_retry_after: bool = True) -> dict[str, Any]:
    """APIM's recommended rule for model deployments: trip on 429 and 5xx."""
    return {
        "name": name,
        "failureCondition": {
            "count": count,
            "interval": interval,
            "statusCodeRanges": [{"min": 429, "max": 429}, {"min": 500, "max": 599}],
        },
        "tripDuration": trip,
        "acceptRetryAfter": accept_retry_after,
    }


def add_backends(state: SandboxState) -> None:
    """Seed the deployments, the pool and the named values their credentials use."""
    v = state.next_version
    state.named_values["aoai-paygo-key"] = NamedValueEntity(
        nid="aoai-paygo-key", display_name="aoai-paygo-key", value=None, secret=True, version=v(),
        tags=["ai", "keyvault"], key_vault_secret="https://kv-contoso-ai.vault.azure.net/secrets/aoai-paygo-key",
    )
    state.backends[PTU] = BackendEntity(
        bid=PTU, url="https://contoso-aoai-weu.openai.azure.com/openai", protocol="http",
        description="gpt-4o provisioned throughput (West Europe)", version=v(), title="PTU West Europe",
        breaker_rules=[breaker_rule(count=1)], capacity_tpm=PTU_CAPACITY_TPM,
    )
    state.backends[PAYGO] = BackendEntity(
        bid=PAYGO, url="https://contoso-aoai-sec.openai.azure.com/openai", protocol="http",
        description="gpt-4o pay-as-you-go (Sweden Central)", version=v(), title="PAYG Sweden Central",
        breaker_rules=[breaker_rule(count=5, trip="PT30S", accept_retry_after=False)],
        credentials={"header": {"api-key": ["{{aoai-paygo-key}}"]}}, capacity_tpm=PAYGO_CAPACITY_TPM,
    )
    state.backends[POOL] = BackendEntity(
        bid=POOL, url="", protocol="http", description="Priority pool: PTU first, pay-as-you-go when it is saturated",
        version=v(), title="gpt-4o pool", kind="Pool",
        pool=[{"id": PTU, "priority": 1, "weight": 1}, {"id": PAYGO, "priority": 2, "weight": 1}],
    )
