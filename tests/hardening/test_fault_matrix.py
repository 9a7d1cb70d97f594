"""Fault matrix (issue #10 item 1): every write path of the CLI under every fault the sandbox can
inject. Each cell runs the write once with the fault on, then reads the server's truth with the
raw SDK and the journal's record of it. The rule: the server holds either the old state or the
new one, the journal has exactly one entry for the attempt, and that entry tells the truth —
``ok`` only if the change is there, ``failed`` only if it is not; when the answer to a write was
lost the journal says the outcome is ``unknown`` rather than guessing.

The matrix (write path × fault → outcome) is collected in ``OUTCOMES`` and printed at the end of
the module (``pytest -s``) so the table in the hardening notes comes from an actual run.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable

import pytest

from tests.hardening.conftest import run_cli_inproc
from tests.hardening.faultlib import journal, set_faults
from tests.sandbox_fixture import sdk_client, start_sandbox

FAULTS: dict[str, dict[str, Any]] = {
    "ARM 429 storm (25%, Retry-After 1 s)": dict(arm_throttle_rate=0.25, retry_after_seconds=1),
    "5xx burst (50%)": dict(error_rate=0.5),
    "connection dropped (50% of requests)": dict(drop_rate=0.5),
    "answer lost after the write": dict(drop_response_rate=1.0),
}
PATHS = ["rotate", "create", "state change", "limit edit", "override", "gateway token", "gateway key"]
OUTCOMES: dict[tuple[str, str], str] = {}
_counter = itertools.count(1)


@pytest.fixture(scope="module")
def sandbox():
    info, stop = start_sandbox(seed=13, subscriptions=90, traffic=False)
    yield info
    stop()
    if OUTCOMES:
        print("\nfault matrix: path | " + " | ".join(FAULTS))
        for path in PATHS:
            print(f"{path} | " + " | ".join(OUTCOMES.get((path, f), "-") for f in FAULTS))


@pytest.fixture(autouse=True)
def _fast_backoff(short_backoff):
    """Every cell: back-off without Retry-After shortened (see conftest.short_backoff)."""


@pytest.fixture(scope="module")
def server(sandbox):
    client = sdk_client(sandbox)
    return client, sandbox["resource_group"], sandbox["service_name"]


@pytest.fixture(scope="module")
def targets(server):
    """Active seeded subscriptions nobody else touches, one per cell: starter ones (where a limit
    binds, for overrides) and any others."""
    client, rg, svc = server
    subs = [s for s in client.subscription.list(rg, svc) if s.state == "active" and len(s.name) == 24]
    starter = sorted(s.name for s in subs if s.scope.endswith("/products/starter"))
    return {"starter": iter(starter), "any": iter(sorted(s.name for s in subs if s.name not in starter))}


def _policy(server, product: str = "starter") -> str:
    client, rg, svc = server
    return client.product_policy.get(rg, svc, product, "policy", format="xml").value


def plan(path: str, server, targets) -> tuple[list[str], Callable[[], Any], Any]:
    """The CLI arguments of one write, a function that reads the server's state, and the old state."""
    client, rg, svc = server
    n = next(_counter)
    if path == "rotate":
        sid = next(targets["any"])
        read = lambda: client.subscription.list_secrets(rg, svc, sid).primary_key  # noqa: E731
        return ["keys", "rotate", sid, "--slot", "primary", "--yes"], read, read()
    if path == "create":
        sid = f"hard-{n}"
        read = lambda: sid in {s.name for s in client.subscription.list(rg, svc)}  # noqa: E731
        return ["subs", "create", "--product", "starter", "--display-name", f"Hardening {n}", "--id", sid,
                "--state", "active", "--yes"], read, False
    if path == "state change":
        sid = next(targets["any"])
        read = lambda: client.subscription.get(rg, svc, sid).state  # noqa: E731
        return ["subs", "set", sid, "--state", "suspended", "--yes"], read, read()
    if path == "limit edit":
        read = lambda: f'tokens-per-minute="{5000 + n}"' in _policy(server)  # noqa: E731
        return ["limits", "set", "product:starter", "--tpm", str(5000 + n), "--yes"], read, False
    if path == "override":
        sid = next(targets["starter"])
        read = lambda: sid in _policy(server)  # noqa: E731
        return ["limits", "override", "--subscription", sid, "--tpm", "90000", "--until", "2h", "--yes"], read, False
    if path == "gateway token":
        return ["gateways", "token", "gw-frankfurt-onprem", "--yes"], lambda: None, None
    if path == "gateway key":
        read = lambda: client.gateway.list_keys(rg, svc, "gw-seattle-edge").secondary  # noqa: E731
        return ["gateways", "regenerate-key", "gw-seattle-edge", "--slot", "secondary", "--yes"], read, read()
    raise AssertionError(path)


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("path", PATHS)
def test_a_write_under_a_fault_leaves_old_or_new_and_says_which(sandbox, server, targets, tmp_path, path, fault):
    argv, read, old = plan(path, server, targets)
    set_faults(sandbox, **FAULTS[fault])
    try:
        out = run_cli_inproc(tmp_path, "-o", "json", *argv, sandbox=sandbox)
    finally:
        set_faults(sandbox)
    now = read()
    changed = now != old if path != "gateway token" else None
    entries = journal(tmp_path)
    assert "Traceback" not in out.stderr
    assert out.returncode in (0, 1), (out.returncode, out.stderr)
    assert len(entries) <= 1, f"one attempt, at most one journal entry: {[e['result'] for e in entries]}"
    if not entries:  # the fault hit a read before the write: nothing was attempted, nothing changed
        assert out.returncode == 1 and changed is not True, out.stderr
        OUTCOMES[(path, fault)] = "failed before the write: old state, no journal entry, exit 1"
        assert not fault.startswith("ARM 429"), out.stderr
        return
    entry = entries[0]
    if out.returncode == 0:
        assert entry["result"] == "ok"
        assert changed in (True, None), "reported ok but the server holds the old state"
    else:
        assert out.stderr.startswith("error: ") and len(out.stderr.strip().splitlines()) <= 3, out.stderr
        if changed:  # landed: the journal must not say failed, and the person must be told
            assert entry["result"] == "unknown" or (entry["result"] == "ok" and "change was made" in out.stderr), (
                f"the write landed but the journal says {entry['result']}: {out.stderr}")
        else:
            assert entry["result"] in ("failed", "unknown"), entry["result"]
    OUTCOMES[(path, fault)] = (
        f"{'new' if changed else 'old' if changed is False else '-'} state, journal {entry['result']}, exit {out.returncode}"
    )
    if fault.startswith("ARM 429"):
        assert out.returncode == 0, f"a 429 storm must be waited out, not fail the write: {out.stderr}"


@pytest.mark.parametrize("path", ["rotate", "gateway key"])
def test_a_key_regenerated_but_not_read_back_is_journalled_as_made(sandbox, server, targets, tmp_path, monkeypatch,
                                                                   path):
    """The fault exactly between the two steps: the regeneration lands, reading the new key fails."""
    from aiconsole.backends.azure_apim import AzureApimBackend
    from aiconsole.domain.errors import ServerError

    argv, read, old = plan(path, server, targets)
    method = "list_secrets" if path == "rotate" else "list_gateway_keys"
    real = getattr(AzureApimBackend, method)
    calls = {"n": 0}

    def flaky(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 1:  # the read before the write works; the read-back fails
            raise ServerError("Could not read the keys: the server failed (500).")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(AzureApimBackend, method, flaky)
    out = run_cli_inproc(tmp_path, "-o", "json", *argv, sandbox=sandbox)
    monkeypatch.setattr(AzureApimBackend, method, real)
    assert read() != old  # the new key is on the server
    entries = journal(tmp_path)
    assert out.returncode == 1 and "change was made" in out.stderr, out.stderr
    assert [e["result"] for e in entries] == ["ok"], entries
    OUTCOMES[(path, "read-back fails after the write")] = "new state, journal ok (error noted), exit 1"
