"""``profile discover`` with the real ARM client; only the HTTP round trip is replaced, because
the sandbox holds one service (so no second page) and does not refuse a list with 403.
``tests/e2e/test_guards.py`` runs discovery against the sandbox itself."""

from __future__ import annotations

import json

import pytest
from azure.core.pipeline.transport import HttpResponse, HttpTransport

from aiconsole.backends.credentials import SandboxCredential
from aiconsole.config.discover import discover_services
from aiconsole.domain.errors import AuthError

SUB = "00000000-0000-0000-0000-0000000000aa"


def _service(name: str, rg: str) -> dict:
    return {
        "id": f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.ApiManagement/service/{name}",
        "name": name, "type": "Microsoft.ApiManagement/service", "location": "West Europe",
        "sku": {"name": "Developer", "capacity": 1},
        "properties": {"publisherEmail": "ops@contoso.com", "publisherName": "Contoso",
                       "gatewayUrl": f"https://{name}.azure-api.net"},
    }


class _Response(HttpResponse):
    def __init__(self, request, status: int, body: dict) -> None:
        super().__init__(request, None)
        self.status_code, self.reason = status, "OK" if status < 400 else "Error"
        self.headers = {"Content-Type": "application/json", "x-ms-request-id": "req-1"}
        self.content_type = "application/json"
        self._body = json.dumps(body).encode()

    def body(self) -> bytes:
        return self._body


class FakeArm(HttpTransport):
    """Two pages of services, or a 403, for the subscription-wide list."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.urls: list[str] = []

    def __enter__(self):
        return self

    def __exit__(self, *a) -> None:
        pass

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def send(self, request, **kwargs):
        self.urls.append(request.url)
        if self.status != 200:
            return _Response(request, self.status, {"error": {"code": "AuthorizationFailed", "message": "no"}})
        assert f"/subscriptions/{SUB}/providers/Microsoft.ApiManagement/service" in request.url
        if "page=2" in request.url:
            return _Response(request, 200, {"value": [_service("apim-b", "rg-two")]})
        return _Response(request, 200, {"value": [_service("apim-a", "rg-one")],
                                        "nextLink": request.url.split("?")[0] + "?api-version=2024-05-01&page=2"})


def test_discover_lists_services_across_pages():
    arm = FakeArm()
    rows = discover_services(subscription_id=SUB, management_url="https://management.azure.com",
                             credential=SandboxCredential(), transport=arm, auth="cli")
    assert [(r["name"], r["resource_group"]) for r in rows] == [("apim-a", "rg-one"), ("apim-b", "rg-two")]
    assert rows[0]["gateway_url"] == "https://apim-a.azure-api.net" and rows[0]["sku"].startswith("Developer")
    assert len(arm.urls) == 2


def test_discover_403_names_the_rbac_action():
    with pytest.raises(AuthError) as err:
        discover_services(subscription_id=SUB, management_url="https://management.azure.com",
                          credential=SandboxCredential(), transport=FakeArm(403), auth="cli", retry_total=0)
    assert "Microsoft.ApiManagement/service/read" in err.value.hint and err.value.request_id == "req-1"


def test_discover_needs_a_subscription(capsys):
    from aiconsole.cli.main import main

    assert main(["profile", "discover", "--auth", "cli"]) == 2
    assert "--subscription-id" in capsys.readouterr().err
