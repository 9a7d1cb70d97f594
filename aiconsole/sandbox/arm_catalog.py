"""Read-mostly resources: the service, products, users, APIs and operations, named values, backends.

The console reads these to resolve scopes, show owners and pick limits; the shapes follow the
2024-05-01 swagger (``apimdeployment.json``, ``apimproducts.json``, ``apimusers.json``,
``apimapis.json``, ``apimnamedvalues.json``, ``apimbackends.json``).
"""

from __future__ import annotations

from typing import Any

from aiconsole.sandbox.arm_common import Call, empty, json_response, paged, prune, resource
from aiconsole.sandbox.odata import EQ_NE, EQ_ONLY, Field
from aiconsole.sandbox.state import Api, Backend, NamedValue, Operation, Product, SandboxState, User, etag_of, iso

# --------------------------------------------------------------------------- service


def render_service(state: SandboxState) -> dict[str, Any]:
    svc = state.service
    host = svc.gateway_host
    base = svc.name.lower()
    return {
        "id": svc.resource_id,
        "name": svc.name,
        "type": "Microsoft.ApiManagement/service",
        "location": svc.location,
        "etag": etag_of(svc.version).strip('"'),
        "tags": {"environment": "sandbox"},
        "sku": {"name": svc.sku, "capacity": 1},
        "properties": {
            "publisherEmail": svc.publisher_email,
            "publisherName": svc.publisher_name,
            "notificationSenderEmail": "apimgmt-noreply@mail.windowsazure.com",
            "provisioningState": "Succeeded",
            "targetProvisioningState": "",
            "createdAtUtc": iso(svc.created),
            "gatewayUrl": f"https://{host}",
            "gatewayRegionalUrl": f"https://{base}-westeurope-01.regional.azure-api.net",
            "portalUrl": f"https://{base}.portal.azure-api.net",
            "developerPortalUrl": f"https://{base}.developer.azure-api.net",
            "managementApiUrl": f"https://{base}.management.azure-api.net",
            "scmUrl": f"https://{base}.scm.azure-api.net",
            "hostnameConfigurations": [
                {
                    "type": "Proxy",
                    "hostName": host,
                    "negotiateClientCertificate": False,
                    "defaultSslBinding": True,
                    "certificateSource": "BuiltIn",
                }
            ],
            "publicIPAddresses": ["203.0.113.10"],
            "virtualNetworkType": "None",
            "disableGateway": False,
            "apiVersionConstraint": {},
            "publicNetworkAccess": "Enabled",
            "platformVersion": "stv2",
        },
    }


def get_service(call: Call):
    body = render_service(call.state)
    return json_response(body, etag=f'"{body["etag"]}"')


# --------------------------------------------------------------------------- products


def render_product(state: SandboxState, p: Product) -> dict[str, Any]:
    return resource(state, "products", f"/products/{p.pid}", p.pid, {
        "displayName": p.display_name,
        "description": p.description,
        "terms": p.terms,
        "subscriptionRequired": p.subscription_required,
        "approvalRequired": p.approval_required if p.subscription_required else None,
        "subscriptionsLimit": p.subscriptions_limit,
        "state": p.state,
    })


PRODUCT_FIELDS = {
    "name": Field(lambda p: p.pid),
    "displayName": Field(lambda p: p.display_name),
    "description": Field(lambda p: p.description),
    "terms": Field(lambda p: p.terms),
    "state": Field(lambda p: p.state, EQ_ONLY),
}


def list_products(call: Call):
    state = call.state
    return paged(call, list(state.products.values()), lambda p: render_product(state, p), fields=PRODUCT_FIELDS)


def get_product(call: Call):
    p = call.state.get_product(call.params["productId"])
    return json_response(render_product(call.state, p), etag=p.etag)


def head_product(call: Call):
    return empty(200, etag=call.state.get_product(call.params["productId"]).etag)


def list_product_apis(call: Call):
    state = call.state
    product = state.get_product(call.params["productId"])
    apis = [state.apis[a] for a in product.api_ids if a in state.apis]
    return paged(call, apis, lambda a: render_api(state, a), fields=API_FIELDS)


def list_api_products(call: Call):
    state = call.state
    products = state.products_of_api(call.params["apiId"])
    return paged(call, products, lambda p: render_product(state, p), fields=PRODUCT_FIELDS)


# --------------------------------------------------------------------------- users


def render_user(state: SandboxState, u: User) -> dict[str, Any]:
    return resource(state, "users", f"/users/{u.uid}", u.uid, {
        "firstName": u.first_name,
        "lastName": u.last_name,
        "email": u.email,
        "state": u.state,
        "registrationDate": iso(u.registered),
        "note": u.note,
        "identities": [{"provider": "Basic", "id": u.email}],
    })


USER_FIELDS = {
    "name": Field(lambda u: u.uid),
    "firstName": Field(lambda u: u.first_name),
    "lastName": Field(lambda u: u.last_name),
    "email": Field(lambda u: u.email),
    "state": Field(lambda u: u.state, EQ_ONLY),
    "registrationDate": Field(lambda u: u.registered, ("ge", "le", "eq", "ne", "gt", "lt"), kind="date"),
    "note": Field(lambda u: u.note),
}


def list_users(call: Call):
    state = call.state
    with state.lock:
        users = list(state.users.values())
    return paged(call, users, lambda u: render_user(state, u), fields=USER_FIELDS)


def get_user(call: Call):
    u = call.state.get_user(call.params["userId"])
    return json_response(render_user(call.state, u), etag=u.etag)


def head_user(call: Call):
    return empty(200, etag=call.state.get_user(call.params["userId"]).etag)


# --------------------------------------------------------------------------- APIs and operations


def render_api(state: SandboxState, a: Api) -> dict[str, Any]:
    return resource(state, "apis", f"/apis/{a.aid}", a.aid, {
        "displayName": a.display_name,
        "apiRevision": "1",
        "description": a.description,
        "serviceUrl": a.service_url,
        "path": a.path,
        "protocols": list(a.protocols),
        "subscriptionKeyParameterNames": {"header": a.header_name, "query": a.query_name},
        "subscriptionRequired": a.subscription_required,
        "type": a.api_type,
        "isCurrent": True,
    })


API_FIELDS = {
    "name": Field(lambda a: a.aid),
    "displayName": Field(lambda a: a.display_name),
    "description": Field(lambda a: a.description),
    "serviceUrl": Field(lambda a: a.service_url),
    "path": Field(lambda a: a.path),
    "isCurrent": Field(lambda a: True, EQ_NE, kind="bool"),
}


def list_apis(call: Call):
    state = call.state
    return paged(call, list(state.apis.values()), lambda a: render_api(state, a), fields=API_FIELDS)


def get_api(call: Call):
    a = call.state.get_api(call.params["apiId"])
    return json_response(render_api(call.state, a), etag=a.etag)


def head_api(call: Call):
    return empty(200, etag=call.state.get_api(call.params["apiId"]).etag)


def render_operation(state: SandboxState, op: Operation) -> dict[str, Any]:
    return {
        "id": state.arm_id(f"/apis/{op.api_id}/operations/{op.oid}"),
        "type": "Microsoft.ApiManagement/service/apis/operations",
        "name": op.oid,
        "properties": prune({
            "displayName": op.display_name,
            "method": op.method,
            "urlTemplate": op.url_template,
            "description": op.description or None,
            "templateParameters": [dict(p) for p in op.template_parameters],
            "responses": [],
        }),
    }


OPERATION_FIELDS = {
    "name": Field(lambda o: o.oid),
    "displayName": Field(lambda o: o.display_name),
    "method": Field(lambda o: o.method),
    "description": Field(lambda o: o.description),
    "urlTemplate": Field(lambda o: o.url_template),
}


def list_operations(call: Call):
    state = call.state
    api = state.get_api(call.params["apiId"])
    return paged(call, list(api.operations.values()), lambda o: render_operation(state, o), fields=OPERATION_FIELDS)


def get_operation(call: Call):
    op = call.state.get_operation(call.params["apiId"], call.params["operationId"])
    return json_response(render_operation(call.state, op), etag=op.etag)


def head_operation(call: Call):
    return empty(200, etag=call.state.get_operation(call.params["apiId"], call.params["operationId"]).etag)


# --------------------------------------------------------------------------- named values and backends


def render_named_value(state: SandboxState, nv: NamedValue) -> dict[str, Any]:
    return resource(state, "namedValues", f"/namedValues/{nv.nid}", nv.nid, {
        "displayName": nv.display_name,
        "value": None if nv.secret else nv.value,
        "tags": list(nv.tags),
        "secret": nv.secret,
    })


NAMED_VALUE_FIELDS = {
    "displayName": Field(lambda n: n.display_name),
    "tags": Field(lambda n: list(n.tags)),
}


def list_named_values(call: Call):
    state = call.state
    items = list(state.named_values.values())
    return paged(call, items, lambda n: render_named_value(state, n), fields=NAMED_VALUE_FIELDS)


def get_named_value(call: Call):
    nv = call.state.get_named_value(call.params["namedValueId"])
    return json_response(render_named_value(call.state, nv), etag=nv.etag)


def render_backend(state: SandboxState, b: Backend) -> dict[str, Any]:
    return resource(state, "backends", f"/backends/{b.bid}", b.bid, {
        "title": b.title,
        "description": b.description,
        "url": b.url,
        "protocol": b.protocol,
        "tls": {"validateCertificateChain": True, "validateCertificateName": True},
    })


BACKEND_FIELDS = {
    "name": Field(lambda b: b.bid),
    "title": Field(lambda b: b.title),
    "url": Field(lambda b: b.url),
}


def list_backends(call: Call):
    state = call.state
    return paged(call, list(state.backends.values()), lambda b: render_backend(state, b), fields=BACKEND_FIELDS)


def get_backend(call: Call):
    b = call.state.get_backend(call.params["backendId"])
    return json_response(render_backend(call.state, b), etag=b.etag)


ROUTES = [
    ("GET", "/", get_service),
    ("GET", "/products", list_products),
    ("GET", "/products/{productId}", get_product),
    ("HEAD", "/products/{productId}", head_product),
    ("GET", "/products/{productId}/apis", list_product_apis),
    ("GET", "/users", list_users),
    ("GET", "/users/{userId}", get_user),
    ("HEAD", "/users/{userId}", head_user),
    ("GET", "/apis", list_apis),
    ("GET", "/apis/{apiId}", get_api),
    ("HEAD", "/apis/{apiId}", head_api),
    ("GET", "/apis/{apiId}/products", list_api_products),
    ("GET", "/apis/{apiId}/operations", list_operations),
    ("GET", "/apis/{apiId}/operations/{operationId}", get_operation),
    ("HEAD", "/apis/{apiId}/operations/{operationId}", head_operation),
    ("GET", "/namedValues", list_named_values),
    ("GET", "/namedValues/{namedValueId}", get_named_value),
    ("GET", "/backends", list_backends),
    ("GET", "/backends/{backendId}", get_backend),
]
