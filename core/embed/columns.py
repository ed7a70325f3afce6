"""The columns an embedded table gets: the embedding (one fixed-size list column ``embedding``, or numbered
float32 columns ``emb_000``, ``emb_001``…) and ``embedded_at`` (where in its geometry each row was embedded),
as Arrow columns for the writers and as pandas columns for the app's tables.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from core.embed.chunks import EmbedInputError, PointChunk

VectorLayout = Literal["list", "columns"]
VECTOR_LAYOUTS: tuple[VectorLayout, ...] = ("list", "columns")
EMBEDDING = "embedding"
EMBEDDED_AT = "embedded_at"


def numbered_columns(dim: int) -> list[str]:
    """``emb_000`` … for a ``dim``-dimensional embedding (more digits past 1000 dimensions)."""
    width = max(3, len(str(dim - 1)))
    return [f"emb_{i:0{width}d}" for i in range(dim)]


def embedding_names(dim: int, vector: VectorLayout) -> list[str]:
    """The names of the embedding's columns: ``["embedding"]`` or ``emb_000…``."""
    return [EMBEDDING] if vector == "list" else numbered_columns(dim)


def embedding_arrays(embeddings: np.ndarray, vector: VectorLayout) -> dict[str, pa.Array]:
    """The embedding ``[n, D]`` as Arrow columns: ``{"embedding": fixed_size_list<float32>[D]}`` or ``emb_000…``."""
    embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
    names = embedding_names(embeddings.shape[1], vector)
    if vector == "list":  # the flat float32 buffer, not copied
        return {names[0]: pa.FixedSizeListArray.from_arrays(pa.array(embeddings.reshape(-1)), embeddings.shape[1])}
    return {name: pa.array(embeddings[:, i]) for i, name in enumerate(names)}


def embedded_table(chunk: PointChunk, embeddings: np.ndarray, vector: VectorLayout, extra: dict[str, pa.Array]) -> pa.Table:
    """``chunk``'s own columns, then ``extra`` (e.g. its geometry), ``embedded_at`` and the embedding.

    :class:`EmbedInputError` when the input already has a column of one of those names.
    """
    added = {**extra, EMBEDDED_AT: chunk.embedded_at, **embedding_arrays(embeddings, vector)}
    clash = sorted(set(added) & set(chunk.attributes.column_names))
    if clash:
        raise EmbedInputError(f"the input already has column(s) {', '.join(map(repr, clash))}, which the output adds; rename them")
    table = chunk.attributes.replace_schema_metadata(None)
    for name, values in added.items():
        table = table.append_column(name, values)
    return table


def with_embedding(frame: pd.DataFrame, embeddings: np.ndarray, vector: VectorLayout) -> pd.DataFrame:
    """``frame`` with the embedding appended as :func:`embedding_arrays` names it (a list column holds arrays)."""
    embeddings = np.asarray(embeddings, dtype=np.float32)
    if vector == "list":
        return frame.assign(**{EMBEDDING: list(embeddings)})
    return frame.assign(**dict(zip(numbered_columns(embeddings.shape[1]), embeddings.T)))
