"""The real ``LogsQueryClient`` over a loopback socket: the query we send, bearer auth over plain
HTTP for loopback only, and the table we read back. The answer comes from a stand-in of the
Log Analytics query API (``POST /v1/workspaces/{id}/query``), not from Azure — what Azure's
gateway logs really contain for a throttled subscription is not testable here."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from aiconsole.backends.credentials import SandboxCredential as StaticTokenCredential
from aiconsole.domain.errors import InsecureTransportError
from aiconsole.telemetry.gateway_logs import REFUSALS_QUERY, GatewayLogs, logs_client
from aiconsole.telemetry.port import TOKEN_RATE

COLUMNS = [("ApimSubscriptionId", "string"), ("ApiId", "string"), ("ProductId", "string"), ("ResponseCode", "int"),
           ("BackendResponseCode", "int"), ("LastErrorSource", "string"), ("LastErrorReason", "string"),
           ("LastErrorScope", "string"), ("Requests", "long")]


@pytest.fixture
def fake_log_analytics():
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
            answer = {"tables": [{"name": "PrimaryResult",
                                  "columns": [{"name": n, "type": t} for n, t in COLUMNS],
                                  "rows": [["noisy", "llm", "starter", 429, None, "llm-token-limit",
                                            "TokenLimitExceeded", "product", 42]]}]}
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()


def test_logs_query_over_loopback_with_the_real_client(fake_log_analytics):
    url, seen = fake_log_analytics
    logs = GatewayLogs(logs_client(StaticTokenCredential("t0ken"), url), "ws-1")
    end = datetime(2026, 1, 15, 9, 30, tzinfo=timezone.utc)
    found = logs.refusals(end - timedelta(minutes=5), end)
    logs.close()
    [(key, by)] = found.items()
    assert key.subscription == "noisy" and key.api == "llm"
    [(tk, count)] = by.items()
    assert (tk.reason, tk.policy, count) == (TOKEN_RATE, "llm-token-limit", 42)
    [req] = seen
    assert req["path"].endswith("/workspaces/ws-1/query")
    assert req["auth"] == "Bearer t0ken"
    assert req["body"]["query"] == REFUSALS_QUERY
    assert req["body"]["timespan"].startswith("2026-01-15T09:25")


def test_plain_http_elsewhere_is_refused():
    with pytest.raises(InsecureTransportError):
        logs_client(StaticTokenCredential(), "http://logs.example.com")
