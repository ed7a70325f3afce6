"""Typed, checked parameters for the encoder registry; errors name the offending key."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


class ConfigError(ValueError):
    """A location-encoder config that cannot be used: unknown name or key, or a bad value (the message names it)."""


Check = Callable[[Any], str | None]


def positive(value: float) -> str | None:
    """Accept values > 0."""
    return None if value > 0 else "must be > 0"


def at_least(bound: int) -> Check:
    """Accept values ≥ ``bound``."""
    return lambda value: None if value >= bound else f"must be >= {bound}"


def one_of(*choices: str) -> Check:
    """Accept one of ``choices``."""
    return lambda value: None if value in choices else f"must be one of {list(choices)}"


@dataclass(frozen=True)
class Param:
    """One parameter: its default, a one-line doc, its kind and an optional extra check.

    Kinds: ``int``, ``float``, ``bool``, ``str``, ``floats`` (non-empty list of numbers) and
    ``lonlat_list`` (list of [lon, lat] degree pairs, or None).
    """

    default: Any
    doc: str
    kind: str
    check: Check | None = None


def _coerce(kind: str, value: Any) -> tuple[Any, str | None]:
    """``value`` converted to ``kind`` (lists for JSON/YAML), or an error message."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "int":
        return (value, None) if isinstance(value, int) and not isinstance(value, bool) else (value, "must be an integer")
    if kind == "float":
        return (float(value), None) if number and math.isfinite(value) else (value, "must be a finite number")
    if kind == "bool":
        return (value, None) if isinstance(value, bool) else (value, "must be true or false")
    if kind == "str":
        return (value, None) if isinstance(value, str) else (value, "must be a string")
    if kind == "floats":
        items = list(value) if isinstance(value, (list, tuple)) else None
        if not items or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in items):
            return value, "must be a non-empty list of finite numbers"
        return [float(v) for v in items], None
    if kind == "lonlat_list":
        if value is None:
            return None, None
        try:
            pairs = [[float(lon), float(lat)] for lon, lat in value]
        except (TypeError, ValueError):
            return value, "must be a list of [lon, lat] pairs in degrees, or null"
        if not pairs or any(not (math.isfinite(lon) and math.isfinite(lat) and abs(lat) <= 90) for lon, lat in pairs):
            return value, "must be a non-empty list of finite [lon, lat] pairs with |lat| <= 90"
        return pairs, None
    raise AssertionError(f"unknown parameter kind {kind!r}")


def resolve_params(where: str, spec: Mapping[str, Param], given: Mapping[str, Any] | None) -> dict[str, Any]:
    """Defaults of ``spec`` overridden by ``given``, checked; raise :class:`ConfigError` naming ``where.key``."""
    given = dict(given or {})
    unknown = sorted(set(given) - set(spec))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; known keys: {sorted(spec)}")
    resolved = {}
    for key, param in spec.items():
        value, error = _coerce(param.kind, given.get(key, param.default))
        if error is None and param.check is not None and value is not None:
            error = param.check(value)
        if error is not None:
            raise ConfigError(f"{where}.{key}: {error}, got {given.get(key)!r}")
        resolved[key] = value
    return resolved
