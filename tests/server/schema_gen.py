"""Random JSON schemas for the structured-output tests (imported by name): objects of a few
required properties (integers in a range, booleans, enums, short strings, small arrays, nested
objects), every part bounded, so that a conforming text has a bounded length (MAX_TOKENS bounds
it for a byte-level model)."""
from __future__ import annotations

import random

MAX_TOKENS = 1500  # > the longest text a schema below allows, in bytes


def _value(rng: random.Random, depth: int) -> dict:
    kinds = ["integer", "boolean", "enum", "string", "array"] + (["object"] if depth < 1 else [])
    kind = rng.choice(kinds)
    if kind == "integer":
        lo = rng.randint(-50, 50)
        return {"type": "integer", "minimum": lo, "maximum": lo + rng.randint(0, 500)}
    if kind == "boolean":
        return {"type": "boolean"}
    if kind == "enum":
        return {"enum": rng.sample(["red", "green", "blue", "x", "def", "None", "42"], rng.randint(1, 4))}
    if kind == "string":
        return {"type": "string", "minLength": rng.randint(0, 2), "maxLength": rng.randint(3, 12)}
    if kind == "array":
        return {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 9},
                "minItems": rng.randint(0, 1), "maxItems": rng.randint(1, 3)}
    return schema(rng, depth + 1)


def schema(rng: random.Random, depth: int = 0) -> dict:
    names = rng.sample(["name", "id", "size", "ok", "tags", "kind", "point", "value", "items"], rng.randint(1, 3))
    props = {n: _value(rng, depth) for n in names}
    return {"type": "object", "properties": props, "required": names, "additionalProperties": False}


def schemas(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    return [schema(rng) for _ in range(n)]
