"""What one request through the gateway looks like to policies.

Built once per request by the data plane after the key check; read by conditions, value
expressions and the engine. ``variables`` collects what the policies' ``*-variable-name``
attributes set, as ``context.Variables`` does in APIM.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class RequestInfo:
    """Identity and shape of one gateway request (ids are short names, not ARM paths)."""

    now: datetime
    subscription_id: str | None = None
    subscription_name: str | None = None
    product_id: str | None = None
    api_id: str | None = None
    operation_id: str | None = None
    user_id: str | None = None
    ip: str = "127.0.0.1"
    deployment: str | None = None
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names
    variables: dict[str, Any] = field(default_factory=dict)
    key_slot: str | None = None  # "primary" | "secondary"
