"""Bad server responses (issue #10 item 3): a tiny HTTP server on 127.0.0.1 answers the real SDK
(through the CLI) with malformed ARM lists — missing fields, wrong types, JSON that is not an
object, HTML, enormous pages, unicode everywhere, a ``nextLink`` that never ends — and
hypothesis-generated subscription items. The console either shows what it can or says in one
sentence what went wrong; it never prints a traceback and never hangs."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hardening.conftest import UNSAFE, run_cli, run_cli_inproc

SUB = "00000000-0000-0000-0000-000000000001"
EXAMPLES = 30
STATE: dict[str, Any] = {"list": {"value": []}, "calls": 0}


class Handler(BaseHTTPRequestHandler):
    """Answers /_sandbox/info like a sandbox and every ARM GET with ``STATE['list']``."""

    def log_message(self, *args: Any) -> None:  # quiet
        return

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        STATE["calls"] += 1
        if self.path.startswith("/_sandbox/info"):
            body: Any = {"management_url": f"http://127.0.0.1:{self.server.server_port}", "subscription_id": SUB,
                         "resource_group": "rg", "service_name": "svc"}
        else:
            body = STATE["list"](self.path) if callable(STATE["list"]) else STATE["list"]
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield {"management_url": f"http://127.0.0.1:{httpd.server_port}"}
    httpd.shutdown()
    httpd.server_close()


def item(name: Any = "s1", **props: Any) -> dict[str, Any]:
    base = {"displayName": "ok", "state": "active", "scope": f"/subscriptions/{SUB}/resourceGroups/rg/providers/"
            "Microsoft.ApiManagement/service/svc/products/starter", "createdDate": "2026-01-01T00:00:00Z"}
    return {"id": f"/x/subscriptions/{name}", "name": name, "type": "Microsoft.ApiManagement/service/subscriptions",
            "properties": {**base, **props}}


def check(out) -> None:
    assert "Traceback" not in out.stderr, out.stderr
    assert out.returncode in (0, 1), (out.returncode, out.stderr)
    if out.returncode == 1:
        errors = [ln for ln in out.stderr.splitlines() if ln.startswith("error:")]
        assert len(errors) == 1 and len(errors[0]) < 400, out.stderr
    assert not UNSAFE.search(out.stderr)


CASES = {
    "no properties": {"value": [{"name": "a"}]},
    "no name": {"value": [{"properties": {"displayName": "x"}}]},
    "null value": {"value": None},
    "value not a list": {"value": {"a": 1}},
    "items not objects": {"value": [1, "two", None]},
    "top level array": [1, 2, 3],
    "wrong types": {"value": [item(state=5, displayName=["x"], createdDate="yesterday", scope=12)]},
    "bad dates": {"value": [item(expirationDate="2026-13-45T99:99:99Z", createdDate=1e308)]},
    "unknown state": {"value": [item(state="exploded")]},
    "html": b"<html><body>502 Bad Gateway</body></html>",
    "empty body": b"",
    "unicode everywhere": {"value": [item(f"s{i}", displayName="\U0001f680\u202e\x1b[31m" + "名" * 50 + chr(0x10FFFF),
                                          stateComment="\x00\x07\u2028") for i in range(3)]},
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("fmt", ["json", "table"])
def test_a_malformed_list_is_a_sentence_or_a_display_never_a_crash(server, tmp_path, case, fmt):
    STATE["list"] = CASES[case]
    check(run_cli_inproc(tmp_path, "-o", fmt, "subs", "list", sandbox=server))


def test_an_enormous_page_is_listed_whole(server, tmp_path):
    """In a subprocess: its timeout is what catches a hang (the run itself takes seconds)."""
    STATE["list"] = {"value": [item(f"sub-{i:05d}", displayName=f"Ünïcödé {i} 🚀") for i in range(20_000)]}
    out = run_cli(tmp_path, "-o", "json", "subs", "list", sandbox=server, timeout=120)
    check(out)
    assert out.returncode == 0
    listed = json.loads(out.stdout)
    assert [s["name"] for s in listed] == [f"sub-{i:05d}" for i in range(20_000)]


def test_a_next_link_that_never_ends_does_not_hang(server, tmp_path):
    def pages(path: str) -> dict[str, Any]:
        return {"value": [item("same")], "nextLink": f"{server['management_url']}/opaque-page-token"}

    STATE["list"] = pages
    STATE["calls"] = 0
    out = run_cli_inproc(tmp_path, "-o", "json", "subs", "list", sandbox=server)
    check(out)
    assert STATE["calls"] < 50


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                                 st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                           max_leaves=8)
props = st.fixed_dictionaries({}, optional={k: json_values for k in (
    "displayName", "state", "scope", "ownerId", "createdDate", "expirationDate", "stateComment", "allowTracing")})


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(items=st.lists(st.builds(lambda n, p: {"name": n, "properties": p}, json_values, props), max_size=4))
def test_generated_items(server, tmp_path_factory, items):
    STATE["list"] = {"value": items}
    home = tmp_path_factory.mktemp("h")
    for fmt in ("json", "table"):
        check(run_cli_inproc(home, "-o", fmt, "subs", "list", sandbox=server))


def test_item_names_stay_out_of_urls_unescaped(server, tmp_path):
    """A name with path characters cannot make ``subs show`` request another resource."""
    seen: list[str] = []

    def record(path: str) -> dict[str, Any]:
        seen.append(path)
        return item("x")

    STATE["list"] = record
    out = run_cli_inproc(tmp_path, "-o", "json", "subs", "show", "../../../gateways/gw?x=1", sandbox=server)
    check(out)
    # the request for the subscription is made, with the name escaped into one path segment
    assert seen and seen[0] == (f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.ApiManagement/service/"
                                "svc/subscriptions/..%2F..%2F..%2Fgateways%2Fgw%3Fx%3D1?api-version=2024-05-01"), seen
    assert all(not re.search(r"/gateways/gw(\?|$)", p) for p in seen), seen


def test_full_pages_that_repeat_forever_do_not_hang(server, tmp_path):
    """The parallel ``$skip`` walk too: a server that answers every skip with the same full page."""
    def pages(path: str) -> dict[str, Any]:
        return {"value": [item(f"same-{i}") for i in range(100)],
                "nextLink": f"{server['management_url']}/x?$skip=100&$top=100"}

    STATE["list"] = pages
    STATE["calls"] = 0
    out = run_cli_inproc(tmp_path, "-o", "json", "subs", "list", sandbox=server)
    check(out)
    assert STATE["calls"] < 200
