"""One listing of everything a picker can offer: encodings, networks and pretrained encoders."""

from __future__ import annotations

from typing import Any

from core.location.params import resolve_params
from core.location.pretrained import geoclip_config, geoclip_status
from core.location.registry import ENCODINGS, NETWORKS


def list_encoders() -> list[dict[str, Any]]:
    """Rows of {kind, name, description, defaults, available, reason[, default_network, config]}.

    ``kind`` is "encoding", "network" or "pretrained"; ``defaults`` maps each param to its default.
    Pretrained entries say whether their weights are installed here and, if not, why.
    """
    rows: list[dict[str, Any]] = []
    for spec in ENCODINGS.values():
        rows.append({
            "kind": "encoding", "name": spec.name, "description": spec.description,
            "defaults": resolve_params("encoding_params", spec.params, {}), "default_network": spec.default_network,
            "available": True, "reason": "",
        })
    for spec in NETWORKS.values():
        rows.append({
            "kind": "network", "name": spec.name, "description": spec.description,
            "defaults": resolve_params("network_params", spec.params, {}), "available": True, "reason": "",
        })
    available, reason = geoclip_status()
    rows.append({
        "kind": "pretrained", "name": "geoclip", "description": "GeoCLIP's released location encoder (512-d), from the geoclip wheel",
        "defaults": {}, "config": geoclip_config().to_dict(), "available": available, "reason": "" if available else reason,
    })
    return rows
