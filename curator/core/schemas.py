"""Loading curator's JSON Schemas and validating documents against them.

Schemas are resolved locally by ``$id`` with :mod:`referencing`; nothing is ever fetched.
Errors come back as ``(json_pointer, message)`` pairs, every one of them, not just the first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator as _Draft202012
from jsonschema import validators as _validators
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012


@lru_cache(maxsize=256)
def ecma_pattern(pattern: str) -> re.Pattern[str]:
    """``pattern`` compiled so that ``$`` means what JSON Schema (ECMA-262) says: the end of the string.

    Python's ``$`` also matches before a final newline, so with the stock ``pattern`` keyword an id
    ``"demo-net\\n"`` passed ``^[a-z0-9-]+$`` and became a file name with a newline in it. Every
    unescaped ``$`` outside a character class becomes ``\\Z``."""
    out, i, in_class = [], 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            # "[]" / "[^]" at the start of a class: the "]" is literal
            j = i + 1 + (pattern[i + 1:i + 2] == "^")
            if pattern[j:j + 1] == "]":
                out.append(pattern[i:j + 1])
                i = j + 1
                continue
        elif c == "$":
            c = r"\Z"
        out.append(c)
        i += 1
    return re.compile("".join(out))


def _pattern_keyword(validator: Any, pattern: str, instance: Any, schema: dict[str, Any]):
    if validator.is_type(instance, "string") and not ecma_pattern(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


# Draft 2020-12 with ECMA-262 end-of-string semantics for "pattern" (see ecma_pattern).
Draft202012Validator = _validators.extend(_Draft202012, {"pattern": _pattern_keyword})

ENTRY_SCHEMA_ID = "https://curator.dev/schemas/entry/v1"
REPORT_SCHEMA_ID = "https://curator.dev/schemas/report/v1"
SUITE_SCHEMA_ID = "https://curator.dev/schemas/suite/v1"
BENCHMARK_RESULT_SCHEMA_ID = "https://curator.dev/schemas/benchmark-result/v1"


@lru_cache(maxsize=1)
def _load_all() -> dict[str, dict[str, Any]]:
    schemas: dict[str, dict[str, Any]] = {}
    for item in resources.files("curator_schemas").iterdir():
        if item.name.endswith(".schema.json"):
            schema = json.loads(item.read_text(encoding="utf-8"))
            Draft202012Validator.check_schema(schema)
            schemas[schema["$id"]] = schema
    return schemas




@lru_cache(maxsize=1)
def registry() -> Registry:
    resources_ = [(sid, Resource.from_contents(s, default_specification=DRAFT202012)) for sid, s in _load_all().items()]
    return Registry().with_resources(resources_)


def get_schema(schema_id: str) -> dict[str, Any]:
    return _load_all()[schema_id]


@cache
def validator(schema_id: str) -> Draft202012Validator:
    """A cached validator for one of curator's schemas.

    Local ``#/$defs/…`` references are inlined first: resolving a ``$ref`` through the
    registry on every use costs about a quarter of the validation time, and validating a
    large board is the hot path (see docs/benchmarks.md, ``## validate``). Instance paths,
    and so every error pointer, are unchanged.
    """
    return Draft202012Validator(inline_local_refs(get_schema(schema_id)), registry=registry())


def inline_local_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``schema`` with each bare ``{"$ref": "#/$defs/name"}`` replaced by that definition
    (recursively; a definition that refers to itself keeps its ``$ref``)."""
    defs = schema.get("$defs", {})

    def walk(node: Any, active: tuple[str, ...]) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                name = ref[len("#/$defs/"):]
                if name in defs and "/" not in name and name not in active:
                    target = walk(defs[name], active + (name,))
                    rest = {k: walk(v, active) for k, v in node.items() if k != "$ref"}
                    if not rest:
                        return target
                    return {"allOf": [target], **rest}
            return {k: (v if k == "$defs" else walk(v, active)) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, active) for v in node]
        return node

    return walk(schema, ())


def validator_for_schema(schema: dict[str, Any]) -> Draft202012Validator:
    """A validator for a plugin-supplied schema (e.g. a verifier's params), local refs only."""
    return Draft202012Validator(schema, registry=registry())


def pointer(parts: Iterable[Any]) -> str:
    """RFC 6901 JSON pointer from a path of keys and indices."""
    out = ""
    for part in parts:
        out += "/" + str(part).replace("~", "~0").replace("/", "~1")
    return out


def _leaf_errors(error: ValidationError) -> Iterable[ValidationError]:
    # oneOf/anyOf errors are vague at the top; their most specific sub-error says what is wrong.
    if error.context and error.validator in ("oneOf", "anyOf"):
        best = max(error.context, key=lambda e: len(e.absolute_path))
        if len(best.absolute_path) > len(error.absolute_path):
            yield from _leaf_errors(best)
            return
    yield error


def _describe(error: ValidationError) -> list[tuple[str, str]]:
    path = list(error.absolute_path)
    if error.validator == "required":
        # Point at the missing field itself, not at its parent object.
        instance = error.instance if isinstance(error.instance, dict) else {}
        missing = [r for r in error.validator_value if r not in instance]
        return [(pointer(path + [name]), "required field is missing") for name in missing]
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        extra = sorted(k for k in error.instance if k not in allowed)
        return [(pointer(path + [k]), f"unknown field {k!r} (allowed: {', '.join(sorted(allowed))})") for k in extra]
    message = error.message
    if len(message) > 300:
        message = message[:300] + "…"
    return [(pointer(path), message)]


def validate(instance: Any, schema_id: str) -> list[tuple[str, str]]:
    """Every schema violation of ``instance`` as ``(pointer, message)``, sorted by pointer."""
    return validate_with(validator(schema_id), instance)


def validate_with(v: Draft202012Validator, instance: Any) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for error in v.iter_errors(instance):
        for leaf in _leaf_errors(error):
            found.extend(_describe(leaf))
    return sorted(set(found))


def require_valid(instance: Any, schema_id: str, error: type[Exception], where: str, what: str) -> None:
    """Raise ``error`` naming ``where`` and the first schema violations when ``instance`` is invalid."""
    problems = validate(instance, schema_id)
    if problems:
        lines = "; ".join(f"{ptr or '/'}: {msg}" for ptr, msg in problems[:5])
        raise error(f"{where} does not match the {what} schema: {lines}")
