"""Streamlit inputs for registry parameters (:class:`core.location.params.Param`), one widget per kind.

Values are returned as entered: checking them is the config's job (its errors name the key).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st
import yaml

from core.location.params import Param


def param_inputs(params: Mapping[str, Param], key: str, columns: int = 3) -> dict[str, Any]:
    """A widget per parameter, pre-filled with its default and documented by its doc line."""
    values: dict[str, Any] = {}
    slots = st.columns(columns) if params else []
    for index, (name, param) in enumerate(params.items()):
        with slots[index % columns]:
            values[name] = _param_input(name, param, f"{key}_{name}")
    return values


def _param_input(name: str, param: Param, key: str) -> Any:
    if param.kind == "bool":
        return st.checkbox(name, value=param.default, help=param.doc, key=key)
    if param.kind == "int":
        return int(st.number_input(name, value=int(param.default), step=1, help=param.doc, key=key))
    if param.kind == "float":
        return float(st.number_input(name, value=float(param.default), format="%g", help=param.doc, key=key))
    if param.kind == "str":
        return st.text_input(name, value=param.default, help=param.doc, key=key)
    # lists (``floats``, ``lonlat_list``): YAML/JSON text, e.g. [1, 16, 256] or [[2.3, 48.9]]; empty = null
    text = st.text_input(name, value="" if param.default is None else yaml.safe_dump(param.default, default_flow_style=True).strip(), help=param.doc, key=key)
    try:
        return yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError:
        return text  # refused, by name, when the config is built
