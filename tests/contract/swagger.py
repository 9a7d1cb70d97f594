"""Load Microsoft's APIM swagger (2024-05-01) and validate sandbox responses against it.

``$ref`` values are rewritten as ``reference/README.md`` says (common types two levels up,
examples in the sibling folder), every file is registered in a ``referencing`` registry under
its ``file://`` URI, and responses are checked twice: by ``jsonschema`` (types, enums,
required) and by a walker that rejects keys the schema does not declare (a typo such as
``createDate`` would otherwise pass, since swagger objects allow extra keys).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

_COMMON = re.compile(r"^(?:\./)?(?:\.\./)+common-types/")


def _rewrite(node: Any, *, swagger_dir: bool) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                if _COMMON.match(value):
                    value = _COMMON.sub("../../common-types/", value)
                elif swagger_dir and value.startswith("./examples/"):
                    value = "../examples/" + value[len("./examples/") :]
            out[key] = _rewrite(value, swagger_dir=swagger_dir)
        return out
    if isinstance(node, list):
        return [_rewrite(v, swagger_dir=swagger_dir) for v in node]
    return node


def _absolute(schema: dict[str, Any], base_uri: str) -> dict[str, Any]:
    """A response schema taken out of its file: make its top-level ``$ref`` absolute."""
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return {**schema, "$ref": urljoin(base_uri, ref)}
    return schema


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str  # the part after /service/{serviceName}
    spec: dict[str, Any]
    file_uri: str
    examples: dict[str, Path]


class Swagger:
    """All APIM swagger files of one reference folder, ready to validate against."""

    def __init__(self, reference: Path) -> None:
        self.reference = reference
        self.swagger_dir = reference / "apim-2024-05-01" / "swagger"
        self.examples_dir = reference / "apim-2024-05-01" / "examples"
        self.documents: dict[str, dict[str, Any]] = {}
        for path in sorted(self.swagger_dir.glob("*.json")):
            self.documents[path.resolve().as_uri()] = _rewrite(json.loads(path.read_text()), swagger_dir=True)
        for path in sorted((reference / "common-types" / "resource-management").rglob("*.json")):
            self.documents[path.resolve().as_uri()] = _rewrite(json.loads(path.read_text()), swagger_dir=False)
        self.registry = Registry().with_resources(
            (uri, Resource.from_contents(doc, default_specification=DRAFT4)) for uri, doc in self.documents.items()
        )

    def uri(self, name: str) -> str:
        return (self.swagger_dir / name).resolve().as_uri()

    @cached_property
    def operations(self) -> dict[str, Operation]:
        ops: dict[str, Operation] = {}
        for uri, doc in self.documents.items():
            for path, item in doc.get("paths", {}).items():
                for method, spec in item.items():
                    if method == "parameters" or "operationId" not in spec:
                        continue
                    examples = {}
                    for title, ref in spec.get("x-ms-examples", {}).items():
                        target = (self.swagger_dir / ref["$ref"]).resolve()
                        if target.exists():
                            examples[title] = target
                    rest = path.split("/service/{serviceName}", 1)[1] if "/service/{serviceName}" in path else path
                    ops[spec["operationId"]] = Operation(spec["operationId"], method.upper(), rest, spec, uri, examples)
        return ops

    def response_schema(self, op: Operation, status: int) -> dict[str, Any] | None:
        responses = op.spec["responses"]
        entry = responses.get(str(status)) or (responses.get("default") if status >= 400 else None)
        if entry is None:
            raise AssertionError(f"{op.operation_id} does not declare status {status}")
        return entry.get("schema")

    def declared_headers(self, op: Operation, status: int) -> set[str]:
        entry = op.spec["responses"].get(str(status)) or {}
        return {h.lower() for h in entry.get("headers", {})}

    def validate(self, op: Operation, status: int, body: Any) -> list[str]:
        """Problems with ``body`` as the response ``status`` of ``op`` (empty when it conforms)."""
        schema = self.response_schema(op, status)
        if schema is None:
            return [] if body in (None, b"", "") else [f"{op.operation_id} {status} declares no body"]
        schema = _absolute(schema, op.file_uri)
        validator = Draft4Validator({"allOf": [schema]}, registry=self.registry)
        problems = [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(body)]
        problems += self.unknown_keys(body, schema, op.file_uri)
        return problems

    def validate_definition(self, file_name: str, definition: str, body: Any) -> list[str]:
        uri = self.uri(file_name)
        schema = {"$ref": f"{uri}#/definitions/{definition}"}
        validator = Draft4Validator(schema, registry=self.registry)
        problems = [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(body)]
        return problems + self.unknown_keys(body, schema, uri)

    # ------------------------------------------------------------------ strict key walk

    def _resolve(self, schema: dict[str, Any], resolver):
        while "$ref" in schema:
            resolved = resolver.lookup(schema["$ref"])
            schema, resolver = resolved.contents, resolved.resolver
        return schema, resolver

    def _properties(self, schema: dict[str, Any], resolver) -> tuple[dict[str, tuple[dict, Any]], Any]:
        schema, resolver = self._resolve(schema, resolver)
        props = {name: (sub, resolver) for name, sub in schema.get("properties", {}).items()}
        additional = schema.get("additionalProperties")
        extra = (additional, resolver) if additional else None
        for part in schema.get("allOf", []):
            more, more_extra = self._properties(part, resolver)
            props.update(more)
            extra = extra or more_extra
        return props, extra

    def unknown_keys(self, body: Any, schema: dict[str, Any], base_uri: str) -> list[str]:
        problems: list[str] = []
        self._walk(body, schema, self.registry.resolver(base_uri), "", problems)
        return problems

    def _walk(self, value: Any, schema: dict[str, Any], resolver, path: str, problems: list[str]) -> None:
        schema, resolver = self._resolve(schema, resolver)
        if isinstance(value, dict):
            props, extra = self._properties(schema, resolver)
            for key, item in value.items():
                if key in props:
                    sub, sub_resolver = props[key]
                    self._walk(item, sub, sub_resolver, f"{path}/{key}", problems)
                elif extra is None:
                    if schema.get("type") == "object" and not props and not schema.get("allOf"):
                        continue  # a free-form object (e.g. additionalInfo.info)
                    problems.append(f"{path}/{key}: not declared by the schema")
                elif isinstance(extra[0], dict):
                    self._walk(item, extra[0], extra[1], f"{path}/{key}", problems)
        elif isinstance(value, list) and isinstance(schema.get("items"), dict):
            for i, item in enumerate(value):
                self._walk(item, schema["items"], resolver, f"{path}/{i}", problems)
