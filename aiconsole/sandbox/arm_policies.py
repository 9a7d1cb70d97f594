"""Policies at service, product, API and operation scope: list, get, HEAD, PUT, DELETE.

GET answers ``format=xml`` (the default: the stored text, byte for byte) or ``format=rawxml``
(expressions unescaped). PUT accepts either form in ``properties.format``, validates it the way
APIM does (400 ``ValidationError`` with line and column) and stores the xml form; when the body
is already xml it is stored exactly as sent. ``If-Match`` is optional on PUT and required on
DELETE; a stale one gets 412.
"""

from __future__ import annotations

from typing import Any

from aiconsole.sandbox import policy_forms
from aiconsole.sandbox.arm_common import ArmError, Call, empty, json_response, validation_error
from aiconsole.sandbox.state import PolicyDoc, SandboxState

FORMATS = ("xml", "rawxml")
LINK_FORMATS = ("xml-link", "rawxml-link")


def _scope(call: Call) -> str:
    """The state's scope key for the route, after checking the entity exists (404 otherwise)."""
    p = call.params
    policy_id = p.get("policyId")
    if policy_id is not None and policy_id.lower() != "policy":
        raise ArmError(404, "ResourceNotFound", "Policy not found.")
    if "operationId" in p:
        key = call.state.policy_scope_key(api=p["apiId"], operation=p["operationId"])
    elif "apiId" in p:
        key = call.state.policy_scope_key(api=p["apiId"])
    elif "productId" in p:
        key = call.state.policy_scope_key(product=p["productId"])
    else:
        key = "global"
    return call.state.canonical_scope(key)


def _path_and_type(scope: str) -> tuple[str, str]:
    if scope == "global":
        return "/policies/policy", "Microsoft.ApiManagement/service/policies"
    kind, _, rest = scope.partition(":")
    if kind == "product":
        return f"/products/{rest}/policies/policy", "Microsoft.ApiManagement/service/products/policies"
    if kind == "api":
        return f"/apis/{rest}/policies/policy", "Microsoft.ApiManagement/service/apis/policies"
    api, _, op = rest.partition("/")
    return f"/apis/{api}/operations/{op}/policies/policy", "Microsoft.ApiManagement/service/apis/operations/policies"


def render(state: SandboxState, doc: PolicyDoc, fmt: str = "xml") -> dict[str, Any]:
    path, kind = _path_and_type(doc.scope)
    value = doc.xml if fmt == "xml" else policy_forms.xml_to_raw(doc.xml)
    return {
        "id": state.arm_id(path),
        "type": kind,
        "name": "policy",
        "properties": {"format": fmt, "value": value},
    }


def _format_param(call: Call) -> str:
    fmt = call.query.get("format") or "xml"
    if fmt not in FORMATS:
        raise validation_error(f"'{fmt}' is not a supported format; use xml or rawxml.")
    return fmt


def list_policies(call: Call):
    scope = _scope(call)
    doc = call.state.find_policy(scope)
    items = [render(call.state, doc)] if doc is not None else []
    return json_response({"value": items, "count": len(items)})


def get(call: Call):
    fmt = _format_param(call)
    doc = call.state.get_policy(_scope(call))
    return json_response(render(call.state, doc, fmt), etag=doc.etag)


def head(call: Call):
    doc = call.state.get_policy(_scope(call))
    return empty(200, etag=doc.etag)


def to_canonical(value: Any, fmt: Any) -> str:
    """Validate a PUT body's document and return the xml form to store (400 if APIM would refuse)."""
    fmt = fmt or "xml"
    if fmt in LINK_FORMATS:
        raise validation_error(
            f"The '{fmt}' format needs the policy to be fetched from a URL, which this sandbox does not do; "
            "send the document inline with xml or rawxml."
        )
    if fmt not in FORMATS:
        raise validation_error(f"'{fmt}' is not a valid policy format; use xml, xml-link, rawxml or rawxml-link.")
    if not isinstance(value, str) or not value.strip():
        raise validation_error("The policy document ('properties.value') is required.",
                               [{"code": "ValidationError", "target": "value", "message": "Value is required."}])
    xml = value if fmt == "xml" else policy_forms.raw_to_xml(value)
    problem = policy_forms.validate(xml)
    if problem is not None:
        raise validation_error(
            "One or more fields contain incorrect values: " + problem.sentence(),
            [{
                "code": "ValidationError",
                "target": "representation",
                "message": problem.sentence(),
                "additionalInfo": [{
                    "type": "PolicyDocumentLocation",
                    "info": {"line": problem.line, "column": problem.column, "element": problem.element},
                }],
            }],
        )
    return xml


def put(call: Call):
    scope = _scope(call)
    props = call.properties()
    xml = to_canonical(props.get("value"), props.get("format"))
    doc, created = call.state.put_policy(scope, xml, if_match=call.if_match)
    return json_response(render(call.state, doc), status=201 if created else 200, etag=doc.etag)


def delete(call: Call):
    scope = _scope(call)
    if not call.if_match:
        raise ArmError(400, "ValidationError", "The If-Match header is required.")
    if call.state.find_policy(scope) is None:
        return empty(204)
    call.state.delete_policy(scope, call.if_match)
    return empty(200)


ROUTES: list = []
for prefix in ("", "/products/{productId}", "/apis/{apiId}", "/apis/{apiId}/operations/{operationId}"):
    ROUTES += [
        ("GET", f"{prefix}/policies", list_policies),
        ("GET", f"{prefix}/policies/{{policyId}}", get),
        ("HEAD", f"{prefix}/policies/{{policyId}}", head),
        ("PUT", f"{prefix}/policies/{{policyId}}", put),
        ("DELETE", f"{prefix}/policies/{{policyId}}", delete),
    ]
