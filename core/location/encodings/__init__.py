"""Positional encodings: each maps validated (lon, lat) degrees ``[N, 2]`` to features ``[N, out_dim]``.

Every encoding is an ``nn.Module`` with an ``out_dim`` attribute; all work in pure torch, vectorised
over points and scales.
"""
