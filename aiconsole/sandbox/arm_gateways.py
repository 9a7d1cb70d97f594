"""Self-hosted gateway entities: list/get/HEAD, keys, tokens, assigned APIs, hostname configurations.

``generateToken`` answers in APIM's token format (``<gatewayId>&<yyyyMMddHHmm>&<signature>``)
with a signature derived from the chosen key, so ``regenerateKey`` invalidates every token
minted from that slot (``SandboxState.verify_gateway_token`` checks it for sandbox nodes).
"""

from __future__ import annotations

from typing import Any

from aiconsole.sandbox.arm_catalog import API_FIELDS, render_api
from aiconsole.sandbox.arm_common import Call, empty, json_response, paged, resource, validation_error
from aiconsole.sandbox.clock import parse_instant
from aiconsole.sandbox.odata import Field
from aiconsole.sandbox.state import KEY_TYPES, Gateway, HostnameConfiguration, SandboxState


def render_gateway(state: SandboxState, gw: Gateway) -> dict[str, Any]:
    location = {
        "name": gw.location_name,
        "city": gw.city,
        "district": gw.district,
        "countryOrRegion": gw.country_or_region,
    }
    return resource(state, "gateways", f"/gateways/{gw.gid}", gw.gid, {
        "locationData": {k: v for k, v in location.items() if v is not None},
        "description": gw.description,
    })


GATEWAY_FIELDS = {
    "name": Field(lambda g: g.gid),
    "region": Field(lambda g: g.location_name),
    "description": Field(lambda g: g.description),
}


def list_gateways(call: Call):
    state = call.state
    with state.lock:
        items = list(state.gateways.values())
    return paged(call, items, lambda g: render_gateway(state, g), fields=GATEWAY_FIELDS)


def get_gateway(call: Call):
    gw = call.state.get_gateway(call.params["gatewayId"])
    return json_response(render_gateway(call.state, gw), etag=gw.etag)


def head_gateway(call: Call):
    return empty(200, etag=call.state.get_gateway(call.params["gatewayId"]).etag)


def list_keys(call: Call):
    gw = call.state.get_gateway(call.params["gatewayId"])
    return json_response({"primary": gw.primary_key, "secondary": gw.secondary_key}, etag=gw.etag)


def _key_type(body: dict[str, Any], *, default: str | None = None) -> str:
    key_type = body.get("keyType", default)
    if key_type not in KEY_TYPES:
        raise validation_error("keyType must be 'primary' or 'secondary'.",
                               [{"code": "ValidationError", "target": "keyType", "message": "Invalid keyType."}])
    return key_type


def regenerate_key(call: Call):
    key_type = _key_type(call.json())
    call.state.regenerate_gateway_key(call.params["gatewayId"], key_type)
    return empty(204)


def generate_token(call: Call):
    body = call.json()
    key_type = _key_type(body, default="primary")
    expiry_text = body.get("expiry")
    if not isinstance(expiry_text, str) or not expiry_text:
        raise validation_error("expiry is required.",
                               [{"code": "ValidationError", "target": "expiry", "message": "expiry is required."}])
    try:
        expiry = parse_instant(expiry_text)
    except ValueError:
        raise validation_error("expiry must be an ISO 8601 date-time.") from None
    call.state.get_gateway(call.params["gatewayId"])  # 404 before validation of the instant
    token = call.state.generate_gateway_token(call.params["gatewayId"], key_type, expiry)
    return json_response({"value": token})


def list_gateway_apis(call: Call):
    state = call.state
    gw = state.get_gateway(call.params["gatewayId"])
    apis = [state.apis[a] for a in gw.api_ids if a in state.apis]
    fields = {"name": API_FIELDS["name"]}
    return paged(call, apis, lambda a: _gateway_api(state, gw, a), fields=fields)


def _gateway_api(state: SandboxState, gw: Gateway, api) -> dict[str, Any]:
    body = render_api(state, api)
    body["id"] = state.arm_id(f"/gateways/{gw.gid}/apis/{api.aid}")
    body["type"] = "Microsoft.ApiManagement/service/gateways/apis"
    return body


def render_hostname(state: SandboxState, gw: Gateway, hc: HostnameConfiguration) -> dict[str, Any]:
    return {
        "id": state.arm_id(f"/gateways/{gw.gid}/hostnameConfigurations/{hc.hcid}"),
        "type": "Microsoft.ApiManagement/service/gateways/hostnameConfigurations",
        "name": hc.hcid,
        "properties": {
            k: v
            for k, v in {
                "hostname": hc.hostname,
                "certificateId": state.arm_id(f"/certificates/{hc.certificate_id}") if hc.certificate_id else None,
                "negotiateClientCertificate": hc.negotiate_client_certificate,
                "tls10Enabled": hc.tls10_enabled,
                "tls11Enabled": hc.tls11_enabled,
                "http2Enabled": hc.http2_enabled,
            }.items()
            if v is not None
        },
    }


HOSTNAME_FIELDS = {
    "name": Field(lambda h: h.hcid),
    "hostname": Field(lambda h: h.hostname),
}


def list_hostnames(call: Call):
    state = call.state
    gw = state.get_gateway(call.params["gatewayId"])
    items = list(gw.hostname_configurations.values())
    return paged(call, items, lambda h: render_hostname(state, gw, h), fields=HOSTNAME_FIELDS, with_count=False)


def get_hostname(call: Call):
    state = call.state
    gw = state.get_gateway(call.params["gatewayId"])
    hc = state._find(gw.hostname_configurations, call.params["hcId"], "Hostname configuration")
    return json_response(render_hostname(state, gw, hc), etag=f'"{hc.version:x}"')


ROUTES = [
    ("GET", "/gateways", list_gateways),
    ("GET", "/gateways/{gatewayId}", get_gateway),
    ("HEAD", "/gateways/{gatewayId}", head_gateway),
    ("POST", "/gateways/{gatewayId}/listKeys", list_keys),
    ("POST", "/gateways/{gatewayId}/regenerateKey", regenerate_key),
    ("POST", "/gateways/{gatewayId}/generateToken", generate_token),
    ("GET", "/gateways/{gatewayId}/apis", list_gateway_apis),
    ("GET", "/gateways/{gatewayId}/hostnameConfigurations", list_hostnames),
    ("GET", "/gateways/{gatewayId}/hostnameConfigurations/{hcId}", get_hostname),
]
