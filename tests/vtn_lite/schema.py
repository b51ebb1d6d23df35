"""Validate responses against the OpenADR 3 YAML (OpenAPI 3.0 schemas, ``nullable`` aware)."""

from __future__ import annotations

import copy
import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS30Validator

SPEC_DIR = Path(__file__).resolve().parent / "spec"
SPEC_FILES = {"3.1.0": "oadr3.1.0.yaml", "3.0.1": "oadr3.0.1.yaml"}


@cache
def load_spec(version: str) -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load((SPEC_DIR / SPEC_FILES[version]).read_text())
    schemas = spec["components"]["schemas"]
    # Both files discriminate notification.object by objectType without a mapping, and the
    # implicit mapping (schema named "EVENT") does not exist: map the values to the schemas.
    notification_object = schemas["notification"]["properties"]["object"]
    if "discriminator" in notification_object:
        notification_object["discriminator"]["mapping"] = {
            kind.upper(): f"#/components/schemas/{kind}"
            for kind in ("program", "event", "report", "subscription", "ven", "resource")
        }
    _map_discriminators(spec, schemas)
    if version == "3.1.0":
        # Known defects of the 3.1.0 file (spec/SOURCES.md).
        schemas["BlVenRequest"]["properties"]["targets"].pop("default", None)
        for composite, request in (("ven", "BlVenRequest"), ("resource", "BlResourceRequest")):
            patched = copy.deepcopy(schemas[request])
            patched["properties"].pop("objectType")
            patched["required"] = [r for r in patched["required"] if r != "objectType"]
            schemas[f"{request}Response"] = patched
            schemas[composite]["allOf"][1] = {"$ref": f"#/components/schemas/{request}Response"}
    return spec


def _map_discriminators(node: Any, schemas: dict[str, Any]) -> None:
    """Give every mapping-less discriminator over $refs (programRequest.payloadDescriptors:
    EVENT_PAYLOAD_DESCRIPTOR -> eventPayloadDescriptor) the mapping its enum values imply."""
    if isinstance(node, list):
        for item in node:
            _map_discriminators(item, schemas)
        return
    if not isinstance(node, dict):
        return
    discriminator = node.get("discriminator")
    choices = node.get("anyOf") or node.get("oneOf")
    if isinstance(discriminator, dict) and "mapping" not in discriminator and choices:
        mapping = {}
        for choice in choices:
            ref = choice.get("$ref", "")
            target = schemas.get(ref.split("/")[-1], {})
            prop = target.get("properties", {}).get(discriminator["propertyName"], {})
            for value in prop.get("enum", []):
                mapping[value] = ref
        if mapping:
            discriminator["mapping"] = mapping
    for value in node.values():
        _map_discriminators(value, schemas)


def _template_regex(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$")


def response_schema(version: str, method: str, path: str, status: int) -> dict[str, Any] | None:
    """The YAML's schema for this response; None when the YAML declares none."""
    spec = load_spec(version)
    for template, item in spec["paths"].items():
        if not _template_regex(template).match(path):
            continue
        operation = item.get(method.lower())
        if operation is None:
            return None
        response = operation.get("responses", {}).get(str(status))
        if response is None:
            return None
        if "$ref" in response:
            response = spec["components"]["responses"][response["$ref"].split("/")[-1]]
        content = response.get("content", {})
        media = content.get("application/json") or next(iter(content.values()), None)
        return media.get("schema") if media else None
    return None


def validate_response(version: str, method: str, path: str, status: int, body: Any) -> None:
    """Raise AssertionError if ``body`` is outside the YAML's schema for this response."""
    schema = response_schema(version, method, path, status)
    if schema is None:
        if status >= 400:
            schema = {"$ref": "#/components/schemas/problem"}
        else:
            raise AssertionError(f"the YAML declares no {status} for {method} {path}")
    validator = _validator(version, schema)
    try:
        validator.validate(body)
    except ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path)
        raise AssertionError(f"{method} {path} -> {status}: {where}: {exc.message}") from None


def _validator(version: str, schema: dict[str, Any]) -> OAS30Validator:
    # Local "#/components/..." references resolve against the embedded components.
    wrapped = {**schema, "components": load_spec(version)["components"]}
    return OAS30Validator(wrapped, format_checker=OAS30Validator.FORMAT_CHECKER)


def validate_component(version: str, name: str, body: Any) -> None:
    """Raise AssertionError if ``body`` does not fit ``components/schemas/<name>``."""
    validator = _validator(version, {"$ref": f"#/components/schemas/{name}"})
    try:
        validator.validate(body)
    except ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path)
        raise AssertionError(f"{name}: {where}: {exc.message}") from None
