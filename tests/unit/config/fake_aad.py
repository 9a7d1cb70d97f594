"""A loopback-free stand-in for Microsoft Entra ID's HTTP endpoints, as an azure-core transport.

azure-identity's credentials accept ``transport=``; giving them this one runs their real code
(MSAL, device-code flow, token parsing, caching) and replaces only the network round trips.
Tokens are unsigned JWTs: the console only reads their claims for the audit principal.
"""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import urlsplit

from azure.core.pipeline.transport import HttpResponse, HttpTransport

TENANT_GUID = "72f988bf-86f1-41af-91ab-2d7cd011db47"


def b64url(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def jwt(claims: dict) -> str:
    return f"{b64url({'alg': 'none', 'typ': 'JWT'})}.{b64url(claims)}.sig"


class _Response(HttpResponse):
    def __init__(self, request, status: int, body: dict) -> None:
        super().__init__(request, None)
        self.status_code = status
        self.reason = "OK" if status < 400 else "Error"
        self.headers = {"Content-Type": "application/json"}
        self.content_type = "application/json"
        self._body = json.dumps(body).encode()

    def body(self) -> bytes:
        return self._body


class FakeEntraID(HttpTransport):
    """Answers discovery, device code and token requests; records what was asked."""

    def __init__(self, claims: dict | None = None, *, token_error: str | None = None, imds_down: bool = False,
                 expires_in: int = 3600) -> None:
        self.expires_in = expires_in
        self.seen: list[tuple[str, str]] = []
        self.claims = claims or {"upn": "oncall@contoso.com"}
        self.token_error = token_error
        self.imds_down = imds_down

    def __enter__(self):
        return self

    def __exit__(self, *args) -> None:
        pass

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def send(self, request, **kwargs):
        from azure.core.exceptions import ServiceRequestError

        parts = urlsplit(request.url)
        self.seen.append((request.method, parts.netloc + parts.path))
        if parts.netloc.startswith("169.254.169.254") or "IDENTITY_ENDPOINT" in parts.path:
            raise ServiceRequestError("no route to the instance metadata service")
        if parts.path.endswith("/.well-known/openid-configuration"):
            tenant = parts.path.split("/")[1]
            base = f"https://{parts.netloc}/{tenant}"
            return _Response(request, 200, {
                "authorization_endpoint": base + "/oauth2/v2.0/authorize",
                "token_endpoint": base + "/oauth2/v2.0/token",
                "device_authorization_endpoint": base + "/oauth2/v2.0/devicecode",
                "issuer": f"https://login.microsoftonline.com/{TENANT_GUID}/v2.0",
            })
        if parts.path.endswith("/discovery/instance"):
            return _Response(request, 200, {
                "tenant_discovery_endpoint": "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration",
                "api-version": "1.1",
                "metadata": [{"preferred_network": "login.microsoftonline.com", "preferred_cache": "login.windows.net",
                              "aliases": ["login.microsoftonline.com", "login.windows.net"]}],
            })
        if parts.path.endswith("/devicecode"):
            return _Response(request, 200, {
                "device_code": "device-code-value", "user_code": "ABCD-EFGH",
                "verification_uri": "https://microsoft.com/devicelogin", "expires_in": 900, "interval": 0,
                "message": "To sign in, use a web browser ...",
            })
        if parts.path.endswith("/token"):
            if self.token_error:
                return _Response(request, 401, {"error": "invalid_client", "error_description": self.token_error})
            data = getattr(request, "data", None) or {}
            client_id = data.get("client_id") if isinstance(data, dict) else None
            now = int(time.time())
            id_token = jwt({
                "aud": client_id or "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
                "iss": f"https://login.microsoftonline.com/{TENANT_GUID}/v2.0",
                "iat": now, "nbf": now, "exp": now + 3600, "oid": "oid-1", "sub": "sub-1", "tid": TENANT_GUID,
                "preferred_username": self.claims.get("upn", "someone@contoso.com"), "ver": "2.0",
            })
            return _Response(request, 200, {
                "token_type": "Bearer", "access_token": jwt(self.claims), "expires_in": self.expires_in,
                "ext_expires_in": self.expires_in,
                "id_token": id_token, "client_info": b64url({"uid": "oid-1", "utid": TENANT_GUID}),
                "scope": "https://management.azure.com/.default",
            })
        raise AssertionError(f"unexpected request {request.method} {request.url}")
