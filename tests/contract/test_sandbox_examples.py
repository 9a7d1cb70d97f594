"""The sandbox's management API against Microsoft's x-ms-examples and swagger schemas.

For every operation the sandbox implements, each of its examples in ../shared/reference is
replayed against a running sandbox (ids mapped to the seeded world): the status must be one
the example shows, the body must validate against the operation's response schema (with no
undeclared keys), and declared headers such as ``ETag`` must be there.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import reference_dir
from tests.contract.swagger import Operation, Swagger
from tests.sandbox_fixture import start_sandbox

pytestmark = pytest.mark.reference

IMPLEMENTED = [
    "ApiManagementService_Get",
    "Subscription_List", "Subscription_Get", "Subscription_GetEntityTag", "Subscription_CreateOrUpdate",
    "Subscription_Update", "Subscription_Delete", "Subscription_RegeneratePrimaryKey",
    "Subscription_RegenerateSecondaryKey", "Subscription_ListSecrets",
    "Product_ListByService", "Product_Get", "Product_GetEntityTag", "ProductSubscriptions_List",
    "ProductApi_ListByProduct",
    "ProductPolicy_ListByProduct", "ProductPolicy_Get", "ProductPolicy_GetEntityTag",
    "ProductPolicy_CreateOrUpdate", "ProductPolicy_Delete",
    "User_ListByService", "User_Get", "User_GetEntityTag", "UserSubscription_List",
    "Api_ListByService", "Api_Get", "Api_GetEntityTag", "ApiOperation_ListByApi", "ApiOperation_Get",
    "ApiPolicy_ListByApi", "ApiPolicy_Get", "ApiPolicy_GetEntityTag", "ApiPolicy_CreateOrUpdate", "ApiPolicy_Delete",
    "ApiOperationPolicy_ListByOperation", "ApiOperationPolicy_Get", "ApiOperationPolicy_GetEntityTag",
    "ApiOperationPolicy_CreateOrUpdate", "ApiOperationPolicy_Delete",
    "Policy_ListByService", "Policy_Get", "Policy_GetEntityTag", "Policy_CreateOrUpdate", "Policy_Delete",
    "Gateway_ListByService", "Gateway_Get", "Gateway_GetEntityTag", "Gateway_ListKeys", "Gateway_RegenerateKey",
    "Gateway_GenerateToken", "GatewayHostnameConfiguration_ListByService", "GatewayApi_ListByService",
    "NamedValue_ListByService", "NamedValue_Get", "Backend_ListByService", "Backend_Get",
]
ORDER = {"GET": 0, "HEAD": 0, "POST": 1, "PUT": 2, "PATCH": 3, "DELETE": 4}
HEADERS = {"Authorization": "Bearer contract-test"}


@pytest.fixture(scope="module")
def swagger() -> Swagger:
    return Swagger(reference_dir())


@pytest.fixture(scope="module")
def sbx():
    info, stop = start_sandbox(seed=3, subscriptions=230)
    with httpx.Client(base_url=info["management_url"], headers=HEADERS, timeout=20) as client:
        yield info, client
    assert stop() == 0


def _owner_of(info: dict, client: httpx.Client, sid: str) -> str:
    body = client.get(f"{info['resource_id']}/subscriptions/{sid}", params={"api-version": "2024-05-01"}).json()
    return body["properties"]["ownerId"].rsplit("/", 1)[-1]


def _ids(info: dict, client: httpx.Client) -> dict[str, str]:
    return {
        "subscriptionId": info["subscription_id"],
        "resourceGroupName": info["resource_group"],
        "serviceName": info["service_name"],
        "sid": "support-bot-prod",
        "productId": "trial",
        "userId": _owner_of(info, client, "support-bot-prod"),
        "apiId": "azure-openai",
        "operationId": "embeddings",
        "gatewayId": "gw-frankfurt-onprem",
        "policyId": "policy",
        "namedValueId": "openai-endpoint",
        "backendId": "openai-backend",
    }


def _rewrite_ids(value: Any, info: dict, ids: dict[str, str]) -> Any:
    """Point the example's ARM ids at the sandbox's service, user and product."""
    if isinstance(value, dict):
        return {k: _rewrite_ids(v, info, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrite_ids(v, info, ids) for v in value]
    if isinstance(value, str) and "/providers/Microsoft.ApiManagement/service/" in value:
        rest = value.split("/providers/Microsoft.ApiManagement/service/", 1)[1].split("/", 1)
        tail = "/" + rest[1] if len(rest) > 1 else ""
        tail = re.sub(r"^/users/[^/]+", f"/users/{ids['userId']}", tail)
        tail = re.sub(r"^/products/[^/]+", f"/products/{ids['productId']}", tail)
        return info["resource_id"] + tail
    return value


def _cases(swagger: Swagger) -> list[tuple[Operation, str, Path]]:
    cases = []
    for op_id in IMPLEMENTED:
        op = swagger.operations[op_id]
        for title, path in op.examples.items():
            cases.append((op, title, path))
    return sorted(cases, key=lambda c: (ORDER[c[0].method], c[0].operation_id, c[1]))


def _request(op: Operation, example: dict, info: dict, client: httpx.Client) -> httpx.Response:
    ids = _ids(info, client)
    params = example["parameters"]
    if op.method in ("PUT", "DELETE") and op.operation_id.startswith("Subscription_"):
        ids["sid"] = "contract-testsub"
    path = op.path
    for name in re.findall(r"\{(\w+)\}", path):
        path = path.replace("{" + name + "}", ids[name])
    query = {"api-version": "2024-05-01"}
    if "format" in params:
        query["format"] = params["format"]
    headers = {}
    if "If-Match" in params:
        headers["If-Match"] = params["If-Match"]
    body = _rewrite_ids(params.get("parameters"), info, ids)
    if op.operation_id == "Gateway_GenerateToken":
        body = {**body, "expiry": (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")}
    url = f"{info['resource_id']}{path}"
    return client.request(op.method, url, params=query, headers=headers,
                          content=json.dumps(body) if body is not None else None)


def test_every_implemented_operation_is_in_the_swagger(swagger):
    missing = [op for op in IMPLEMENTED if op not in swagger.operations]
    assert not missing


def test_examples_replay_with_matching_status_schema_and_headers(swagger, sbx):
    info, client = sbx
    cases = _cases(swagger)
    assert len(cases) >= 45  # the reference folder holds the examples of nearly every listed operation
    failures: list[str] = []
    for op, title, path in cases:
        example = json.loads(path.read_text())
        response = _request(op, example, info, client)
        expected = sorted(int(code) for code in example["responses"])
        label = f"{op.operation_id} [{title}] {op.method}"
        if response.status_code not in expected:
            failures.append(f"{label}: status {response.status_code}, example shows {expected}: {response.text[:300]}")
            continue
        if "x-ms-request-id" not in response.headers:
            failures.append(f"{label}: no x-ms-request-id header")
        for header in swagger.declared_headers(op, response.status_code):
            if header not in response.headers:
                failures.append(f"{label}: declared header {header} missing")
        body = response.json() if response.content else None
        for problem in swagger.validate(op, response.status_code, body):
            failures.append(f"{label}: {problem}")
        example_body = example["responses"][str(response.status_code)].get("body")
        if isinstance(example_body, dict) and isinstance(body, dict):
            # Same envelope as the example: a collection stays a collection, an entity an entity.
            for key in ("value", "id", "name", "type", "properties"):
                if (key in example_body) != (key in body) and not (key == "id" and "value" in body):
                    failures.append(f"{label}: key '{key}' presence differs from the example")
    assert not failures, "\n".join(failures)


def test_error_bodies_conform_to_the_arm_error_schema(swagger, sbx):
    info, client = sbx
    op = swagger.operations["Subscription_Get"]
    base = f"{info['resource_id']}/subscriptions"
    cases = [
        client.get(f"{base}/support-bot-prod", params={"api-version": "2024-05-01"}, headers={"Authorization": ""}),
        client.get(f"{base}/support-bot-prod"),
        client.get(f"{base}/support-bot-prod", params={"api-version": "2019-12-01"}),
        client.get(f"{base}/no-such-subscription", params={"api-version": "2024-05-01"}),
        client.put(f"{base}/x", params={"api-version": "2024-05-01"}, content=b"{not json"),
        client.put(f"{base}/x", params={"api-version": "2024-05-01"}, json={"properties": {"displayName": "x"}}),
        client.patch(f"{base}/support-bot-prod", params={"api-version": "2024-05-01"},
                     headers={"If-Match": '"stale"'}, json={"properties": {"displayName": "y"}}),
        client.get(f"{base}", params={"api-version": "2024-05-01", "$filter": "bogusField eq 'x'"}),
    ]
    expected = [
        (401, "AuthenticationFailed"), (400, "MissingApiVersionParameter"), (400, "InvalidApiVersionParameter"),
        (404, "ResourceNotFound"), (400, "InvalidRequestContent"), (400, "ValidationError"),
        (412, "PreconditionFailed"), (400, "ValidationError"),
    ]
    for response, (status, code) in zip(cases, expected, strict=True):
        assert response.status_code == status, response.text
        body = response.json()
        assert body["error"]["code"] == code
        assert body["error"]["message"]
        assert swagger.validate(op, status, body) == []
        assert response.headers.get("x-ms-request-id")


def test_policy_validation_error_carries_line_and_column(swagger, sbx):
    info, client = sbx
    op = swagger.operations["ProductPolicy_CreateOrUpdate"]
    doc = "<policies>\n  <inbound>\n    <base />\n  </inbound>\n  <outbound>\n" \
          '    <llm-token-limit counter-key="@(context.Subscription.Id)" tokens-per-minute="5" ' \
          'estimate-prompt-tokens="true" />\n  </outbound>\n</policies>'
    response = client.put(f"{info['resource_id']}/products/starter/policies/policy",
                          params={"api-version": "2024-05-01"},
                          json={"properties": {"format": "rawxml", "value": doc}})
    assert response.status_code == 400
    body = response.json()
    assert swagger.validate(op, 400, body) == []
    detail = body["error"]["details"][0]
    location = detail["additionalInfo"][0]["info"]
    assert (location["line"], location["column"]) == (6, 5)
    assert "line 6, column 5" in detail["message"]
    broken = client.put(f"{info['resource_id']}/products/starter/policies/policy",
                        params={"api-version": "2024-05-01"},
                        json={"properties": {"format": "xml", "value": "<policies>\n<inbound>\n</policies>"}})
    assert broken.status_code == 400
    info3 = broken.json()["error"]["details"][0]["additionalInfo"][0]["info"]
    assert info3["line"] == 3


def test_operations_without_examples_conform_to_their_schemas(swagger, sbx):
    """Operations whose examples Microsoft did not publish are checked against the schema alone."""
    info, client = sbx
    base = info["resource_id"]
    q = {"api-version": "2024-05-01"}
    calls = {
        "ApiOperation_Get": client.get(f"{base}/apis/azure-openai/operations/chat-completions", params=q),
        "Api_GetEntityTag": client.head(f"{base}/apis/llm", params=q),
        "ProductApi_ListByProduct": client.get(f"{base}/products/standard/apis", params=q),
        "Subscription_RegenerateSecondaryKey": client.post(f"{base}/subscriptions/eval-harness/regenerateSecondaryKey",
                                                           params=q),
        "User_GetEntityTag": client.head(f"{base}/users/1", params=q),
        "ApiManagementService_List": client.get(
            f"/subscriptions/{info['subscription_id']}/providers/Microsoft.ApiManagement/service", params=q),
        "ApiManagementService_ListByResourceGroup": client.get(
            f"/subscriptions/{info['subscription_id']}/resourceGroups/{info['resource_group']}"
            "/providers/Microsoft.ApiManagement/service", params=q),
    }
    failures = []
    for op_id, response in calls.items():
        op = swagger.operations[op_id]
        declared = sorted(int(c) for c in op.spec["responses"] if c != "default")
        if response.status_code not in declared:
            failures.append(f"{op_id}: status {response.status_code} not in {declared}")
            continue
        body = response.json() if response.content else None
        failures += [f"{op_id}: {p}" for p in swagger.validate(op, response.status_code, body)]
        failures += [f"{op_id}: missing {h}" for h in swagger.declared_headers(op, response.status_code)
                     if h not in response.headers]
    assert not failures, "\n".join(failures)
    assert [a["name"] for a in calls["ProductApi_ListByProduct"].json()["value"]] == ["azure-openai", "llm"]
    for listing in ("ApiManagementService_List", "ApiManagementService_ListByResourceGroup"):
        assert [s["id"] for s in calls[listing].json()["value"]] == [info["resource_id"]]
    other_rg = client.get(f"/subscriptions/{info['subscription_id']}/resourceGroups/elsewhere"
                          "/providers/Microsoft.ApiManagement/service", params=q)
    assert other_rg.status_code == 404 and other_rg.json()["error"]["code"] == "ResourceGroupNotFound"
