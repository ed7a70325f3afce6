"""Our positional encodings side by side with the reference implementations (CSP, TorchSpatial, SatCLIP).

For every encoding that a reference repository implements, with the same hyper-parameters and the same
4 096 points (1 thread by default): that the features agree (columns paired up to ordering, and sign
for SatCLIP's harmonics; max |difference| for our float64 and float32 paths), then the time of the
reference's encoding and of ours (bare module, the validated public entry, and the float64 path), the
ratio, and our output elements per second as a fraction ("frac") of the bound's elements per second in
the same rounds: ``torch.sin`` (one sine per feature bounds a sinusoidal encoding; product terms can
exceed it) or, for the one-hot tile, a fresh ``torch.zeros``. Where every feature costs exactly one
bound operation, "at bound" = ratio / frac is the ratio an encoding running at the bound's speed would
reach: a target above it cannot be met on that machine. Then the cost of the entry's coordinate check,
and the seconds to encode every H3 resolution-3 cell centre.

The reference code is not part of this repository: pass the roots of checkouts of
``seai-lab/TorchSpatial``, ``gengchenmai/csp`` and ``microsoft/satclip``; a reference not given is
skipped with a message. Only their encoder modules are loaded (TorchSpatial/CSP ``main/`` files, SatCLIP's
closed-form harmonics and ``Cartesian3D`` through a stub for the generated harmonics module it does not
need). Targets (issue 14): ≥ 10× each reference written in numpy or Python loops, ≥ 25× for grid
and theory, every encoding < 0.5 s on the resolution-3 grid. References that are already a few
vectorised torch ops (CSP's ``encode_loc_time``, SatCLIP's ``Cartesian3D``) cost about what their
sines cost, so they get no target and are shown for context.

    python -m benchmarks.encoders_vs_reference --torchspatial PATH --csp PATH --satclip PATH [--quick] [--threads N]

Each time is the fastest of interleaved rounds (reference, ours, the bound's probes in turn, each called
twice and timed warm): on a shared, loaded machine the least disturbed run is the steadiest estimate of
what the code costs, and both sides get the same chances; the load average is printed.
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import sys
import time
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.coords import sample_sphere, wrap_longitude
from core.hexgrid import cell_centers, world_cells
from core.location import ENCODINGS, LocationEncoder, build_location_encoder
from core.location.validation import check_lonlat_tensor

BATCH = 4096
PROBE_SIZE = 1 << 20
RES3 = 3
RES3_TARGET_S = 0.5
Run = Callable[[np.ndarray], torch.Tensor]
"""A reference encoding: (lon, lat) degrees float64 ``[N, 2]`` → features ``[N, D]``."""


# --- loading the reference code -----------------------------------------------------------------------


@contextmanager
def flat_source(directory: Path) -> Iterator[None]:
    """Import from a repository's flat source folder, then forget its modules (CSP and TorchSpatial both
    name theirs ``module``, ``utils``, ``data_utils``…), so the next repository imports its own."""
    sys.path.insert(0, str(directory))
    try:
        yield
    finally:
        sys.path.remove(str(directory))
        for name, module in list(sys.modules.items()):
            if str(getattr(module, "__file__", "") or "").startswith(str(directory)):
                del sys.modules[name]


def load_flat(directory: Path, name: str) -> types.ModuleType:
    """Module ``name`` of ``directory`` (kept alive by the returned object only)."""
    with flat_source(directory):
        return importlib.import_module(name)


def load_satclip(root: Path) -> types.ModuleType:
    """SatCLIP's ``positional_encoding`` package with its generated-harmonics module stubbed (the closed form is used)."""
    folder = root / "satclip" / "positional_encoding"
    package = types.ModuleType("satclip_positional_encoding")
    package.__path__ = [str(folder)]
    sys.modules[package.__name__] = package
    stub = types.ModuleType(f"{package.__name__}.spherical_harmonics_ylm")
    stub.SH = None  # the "analytic" tables (a generated file); the benchmark uses harmonics_calculation="closed-form"
    sys.modules[stub.__name__] = stub
    for name in ("spherical_harmonics", "cartesian3d"):
        setattr(package, name, importlib.import_module(f"{package.__name__}.{name}"))
    return package


@dataclass
class References:
    """The loaded reference modules (None where a repository was not given)."""

    torchspatial: types.ModuleType | None
    csp: types.ModuleType | None
    csp_utils: types.ModuleType | None
    satclip: types.ModuleType | None


def load_references(args: argparse.Namespace) -> References:
    """Load what was given; say which references are skipped and why."""
    loaded: dict[str, types.ModuleType | None] = {"torchspatial": None, "csp": None, "csp_utils": None, "satclip": None}
    sources = {
        "torchspatial": (args.torchspatial, "main/SpatialRelationEncoder.py", lambda r: {"torchspatial": load_flat(r / "main", "SpatialRelationEncoder")}),
        "csp": (args.csp, "main/SpatialRelationEncoder.py", lambda r: {"csp": load_flat(r / "main", "SpatialRelationEncoder"), "csp_utils": load_flat(r / "main", "utils")}),
        "satclip": (args.satclip, "satclip/positional_encoding/spherical_harmonics_closed_form.py", lambda r: {"satclip": load_satclip(r)}),
    }
    for name, (root, needed, load) in sources.items():
        if root is None:
            print(f"skipping {name}: pass --{name} PATH (the root of a checkout) to compare with it")
        elif not (Path(root) / needed).is_file():
            print(f"skipping {name}: {Path(root) / needed} not found")
        else:
            loaded.update(load(Path(root)))
    return References(**loaded)


# --- the pairs compared ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    """One of our encodings (registry name + params) against one reference implementation.

    ``match``: "same order", "any order", "any order and sign", or why the formulas differ (then only
    the sizes are compared). ``target``: the speed-up asked for (None: a torch reference, no target).
    """

    encoding: str
    params: dict
    reference: str
    repo: str
    build: Callable[[References, np.ndarray], Run]
    match: str
    target: float | None = 10.0

    @property
    def bound(self) -> str:
        """The operation whose throughput bounds ours: one fresh zero-filled element per tile feature, else sines."""
        return "zeros" if self.encoding == "tile" else "sin"

    @property
    def one_bound_op_per_feature(self) -> bool:
        """Whether every feature costs exactly one bound operation (so ratio / fraction is the ratio at the bound)."""
        return self.encoding in ("wrap", "tile", "nerf", "grid", "theory", "rff")


def position_encoder(make: Callable[[References], torch.nn.Module]) -> Callable[[References, np.ndarray], Run]:
    """A TorchSpatial/CSP position encoder: numpy ``[N, 1, 2]`` in (copied: some normalise in place), ``[N, 1, D]`` out."""

    def build(refs: References, _centers: np.ndarray) -> Run:
        module = make(refs)
        return lambda points: module(points[:, None, :].copy())[:, 0]

    return build


def grid_lookup(refs: References, _centers: np.ndarray) -> Run:
    """TorchSpatial's tile lookup with one embedding row per cell set to the identity: its output is the one-hot."""
    module = refs.torchspatial.GridLookupSpatialRelationPositionEncoder(spa_embed_dim=648, interval=10, extent=[-180, 180, -90, 90], device="cpu")
    module.embedding.weight.data = torch.eye(648)
    return lambda points: module(points[:, None, :].copy())[:, 0]


def rbf(cls_name: str, repo: str) -> Callable[[References, np.ndarray], Run]:
    """TorchSpatial/CSP RBF with our 200 centres as its anchor points and a 10° kernel."""

    def build(refs: References, centers: np.ndarray) -> Run:
        kernel = {"rbf_kernel_size": 10.0} if repo == "torchspatial" else {"rbf_kernal_size": 10.0}
        extra = {} if repo == "torchspatial" else {"spa_embed_dim": 200}
        module = getattr(getattr(refs, repo), cls_name)(
            model_type="global", train_locs=centers, num_rbf_anchor_pts=len(centers), rbf_anchor_pt_ids=list(range(len(centers))), device="cpu", **kernel, **extra
        )
        return lambda points: module(points[:, None, :].copy())[:, 0]

    return build


def csp_encode_loc_time(refs: References, _centers: np.ndarray) -> Run:
    """CSP's geo_net path for wrap: ``convert_loc_to_tensor`` then ``encode_loc_time`` (torch)."""
    utils = refs.csp_utils
    params = {"loc_encode": "encode_cos_sin", "use_date_feats": False}
    return lambda points: utils.encode_loc_time(utils.convert_loc_to_tensor(points), None, concat_dim=1, params=params)


def satclip_harmonics(refs: References, _centers: np.ndarray) -> Run:
    """SatCLIP's SphericalHarmonics (closed form), L = 10, in float64 as SatCLIP runs its location encoder."""
    module = refs.satclip.spherical_harmonics.SphericalHarmonics(legendre_polys=10, harmonics_calculation="closed-form")
    return lambda points: module(torch.from_numpy(points))


def satclip_xyz(refs: References, _centers: np.ndarray) -> Run:
    """SatCLIP's Cartesian3D (torch, float64 as SatCLIP runs it)."""
    module = refs.satclip.cartesian3d.Cartesian3D()
    return lambda points: module(torch.from_numpy(points))


def _ts(cls_name: str, **kwargs: object) -> Callable[[References, np.ndarray], Run]:
    return position_encoder(lambda refs: getattr(refs.torchspatial, cls_name)(device="cpu", **kwargs))


def _csp(cls_name: str, **kwargs: object) -> Callable[[References, np.ndarray], Run]:
    return position_encoder(lambda refs: getattr(refs.csp, cls_name)(spa_embed_dim=1, ffn=None, device="cpu", **kwargs))


SPACE = {"frequency_num": 32, "min_radius": 0.1, "max_radius": 360.0}
SPHERE = {"frequency_num": 32, "min_radius": 0.001, "max_radius": 1.0}
WORLD = (-180, 180, -90, 90)
NERF_DIFFERS = "differs: TorchSpatial's NeRF encodes the 3-D unit vector (6K), ours (lon/180, lat/90) (4K)"
RBF_DIFFERS = "differs: the reference's distance is Euclidean in (lon, lat) degrees, ours the chord on the sphere"
RFF_DIFFERS = "differs: the reference is cos(Wx + b) of min-max scaled (lon, lat), ours cos/sin(2πB·xyz)"

PAIRS = [
    Pair("wrap", {}, "AodhaFFTSpatialRelationPositionEncoder", "torchspatial", _ts("AodhaFFTSpatialRelationPositionEncoder", extent=WORLD, do_pos_enc=True), "any order"),
    Pair("wrap", {}, "AodhaFFTSpatialRelationEncoder", "csp", _csp("AodhaFFTSpatialRelationEncoder", extent=WORLD, do_pos_enc=True), "any order"),
    Pair("wrap", {}, "encode_loc_time (torch)", "csp", csp_encode_loc_time, "any order", None),
    Pair("tile", {"cell_size": 10.0}, "GridLookupSpatialRelationPositionEncoder", "torchspatial", grid_lookup, "same order"),
    Pair("xyz", {}, "XYZSpatialRelationPositionEncoder", "torchspatial", _ts("XYZSpatialRelationPositionEncoder"), "same order"),
    Pair("xyz", {}, "Cartesian3D (torch)", "satclip", satclip_xyz, "same order", None),
    Pair("nerf", {"num_frequencies": 10}, "NERFSpatialRelationPositionEncoder", "torchspatial", _ts("NERFSpatialRelationPositionEncoder", frequency_num=10), NERF_DIFFERS),
    Pair("grid", {}, "GridCellSpatialRelationPositionEncoder", "torchspatial", _ts("GridCellSpatialRelationPositionEncoder", **SPACE), "same order", 25.0),
    Pair("grid", {}, "GridCellSpatialRelationEncoder", "csp", _csp("GridCellSpatialRelationEncoder", **SPACE), "same order", 25.0),
    Pair("theory", {}, "TheoryGridCellSpatialRelationPositionEncoder", "torchspatial", _ts("TheoryGridCellSpatialRelationPositionEncoder", **SPACE), "any order", 25.0),
    Pair("theory", {}, "TheoryGridCellSpatialRelationEncoder", "csp", _csp("TheoryGridCellSpatialRelationEncoder", **SPACE), "any order", 25.0),
    Pair("sphereC", {}, "SphereSpatialRelationPositionEncoder", "torchspatial", _ts("SphereSpatialRelationPositionEncoder", **SPHERE), "any order"),
    Pair("sphereC+", {}, "SphereGirdSpatialRelationPositionEncoder", "torchspatial", _ts("SphereGirdSpatialRelationPositionEncoder", **SPHERE), "any order"),
    Pair("sphereM", {}, "SphereMixScaleSpatialRelationPositionEncoder", "torchspatial", _ts("SphereMixScaleSpatialRelationPositionEncoder", **SPHERE), "any order"),
    # these two ignore min_radius, their ladder is max_radius^(s/(S-1)): 0.001 gives our λ = 0.001..1 in reverse order
    Pair("sphereM+", {}, "SphereGridMixScaleSpatialRelationPositionEncoder", "torchspatial", _ts("SphereGridMixScaleSpatialRelationPositionEncoder", frequency_num=32, max_radius=0.001), "any order"),
    Pair("dfs", {}, "DFTSpatialRelationPositionEncoder", "torchspatial", _ts("DFTSpatialRelationPositionEncoder", frequency_num=16, max_radius=0.001), "any order"),
    Pair("rbf", {"num_centers": 200, "kernel_size": 10.0}, "RBFSpatialRelationPositionEncoder", "torchspatial", rbf("RBFSpatialRelationPositionEncoder", "torchspatial"), RBF_DIFFERS),
    Pair("rbf", {"num_centers": 200, "kernel_size": 10.0}, "RBFSpatialRelationEncoder", "csp", rbf("RBFSpatialRelationEncoder", "csp"), RBF_DIFFERS),
    Pair("rff", {"num_frequencies": 256}, "RFFSpatialRelationPositionEncoder (torch)", "torchspatial", _ts("RFFSpatialRelationPositionEncoder", frequency_num=512, extent=WORLD), RFF_DIFFERS, None),
    Pair("rff", {"num_frequencies": 256}, "RFFSpatialRelationEncoder (torch)", "csp", _csp("RFFSpatialRelationEncoder", frequency_num=512, extent=WORLD), RFF_DIFFERS, None),
    Pair("spherical_harmonics", {"degree": 10}, "SphericalHarmonics closed-form", "satclip", satclip_harmonics, "any order and sign"),
]


# --- measuring --------------------------------------------------------------------------------------------


def interleaved_best(runs: list[Callable[[], object]], rounds: int) -> list[float]:
    """Fastest seconds of each run over ``rounds`` rounds; in every round each run is called twice in turn
    and its second (warm) call is timed, as in a loop over batches."""
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(rounds):
        for run, recorded in zip(runs, times):
            run()
            started = time.perf_counter()
            run()
            recorded.append(time.perf_counter() - started)
    return [min(t) for t in times]


def probe(bound: str, dtype: torch.dtype) -> Callable[[], object]:
    """PROBE_SIZE elements of the bound: ``torch.sin`` of angles uniform in ±1 000 rad into a preallocated
    output, or a fresh ``torch.zeros`` (allocation and zero fill, as a one-hot needs)."""
    if bound == "zeros":
        return lambda: torch.zeros(PROBE_SIZE, dtype=dtype)
    angles = (torch.rand(PROBE_SIZE, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2000.0 - 1000.0).to(dtype)
    out = torch.empty_like(angles)
    return lambda: torch.sin(angles, out=out)


def encoder(name: str, params: dict, precision: str = "float32", centers: list | None = None) -> LocationEncoder:
    """Our encoding with identity network (only the positional part is timed)."""
    if centers is not None:
        params = {**params, "centers": centers}
    return build_location_encoder({"encoding": name, "encoding_params": params, "network": "identity", "precision": precision}).eval()


def paired_difference(reference: torch.Tensor, ours: torch.Tensor, match: str) -> tuple[float, bool]:
    """Max |difference| after pairing each reference column with one of ours (the same index, or greedily the
    nearest unused column, with a sign flip allowed for "any order and sign"), and whether every column
    of both sides was paired (equal columns, e.g. sphereM's at λ = 1, pair in either order)."""
    ref, mine = reference.double(), ours.double()
    if match == "same order":
        return float((ref - mine).abs().max()), ref.shape == mine.shape
    cross = ref.T @ mine
    norms = (ref * ref).sum(0)[:, None] + (mine * mine).sum(0)[None, :]
    distance, sign = norms - 2 * cross, torch.ones_like(cross)
    if match == "any order and sign":
        flipped = norms + 2 * cross
        sign = torch.where(flipped < distance, -1.0, 1.0)
        distance = torch.minimum(distance, flipped)
    paired = torch.empty(ref.shape[1], dtype=torch.long)
    for column in distance.min(dim=1).values.argsort().tolist():  # surest pairs first
        paired[column] = int(distance[column].argmin())
        distance[:, paired[column]] = math.inf
    signs = sign.gather(1, paired[:, None])[:, 0]
    return float((ref - signs * mine[:, paired]).abs().max()), ref.shape == mine.shape


def unfused_check(lonlat: torch.Tensor) -> torch.Tensor:
    """Baseline: the entry's check as it was before (finite test, latitude test, wrap, stack: a pass each)."""
    finite = torch.isfinite(lonlat).all(dim=1)
    if not bool(finite.all()):
        raise ValueError("not finite")
    if bool((lonlat[:, 1].abs() > 90.0).any()):
        raise ValueError("latitude")
    return torch.stack([wrap_longitude(lonlat[:, 0]), lonlat[:, 1]], dim=1).to(torch.float32)


def compare(pairs: list[Pair], refs: References, points: np.ndarray, rounds: int) -> None:
    """The side-by-side table."""
    tensor32 = torch.from_numpy(points).float()
    tensor64 = tensor32.double()
    exact = tensor64.numpy()  # the references see exactly our float32 inputs
    centers = exact[np.random.default_rng(1).choice(len(exact), 200, replace=False)]
    print(f"\n{'encoding':20s} {'reference':58s} {'dims':>9s} {'same features: max|Δ| f64 / f32':>33s} {'ref ms':>7s} {'ours ms':>7s} "
          f"{'ratio':>6s} {'target':>7s} {'entry':>6s} {'f64 ms':>7s} {'bound':>5s} {'frac':>5s} {'f64':>5s} {'at bound':>8s}")
    for pair in pairs:
        if getattr(refs, pair.repo) is None:
            continue
        with torch.inference_mode():
            run_reference = pair.build(refs, centers)
            center_list = centers.tolist() if pair.encoding == "rbf" else None
            ours, ours64 = encoder(pair.encoding, pair.params, centers=center_list), encoder(pair.encoding, pair.params, "float64", center_list)
            ref_out = run_reference(exact)
            out32, out64 = ours.features(tensor32), ours64.features(tensor32)
            dims = f"{out32.shape[1]}/{ref_out.shape[1]}"
            if pair.match.startswith("differs"):
                agreement = "formula differs (below)"
            else:
                d64, one_to_one = paired_difference(ref_out, out64, pair.match)
                d32, _ = paired_difference(ref_out, out32, pair.match)
                agreement = f"{'yes' if d64 <= 1e-6 and one_to_one else 'NO'} {d64:.1e} / {d32:.1e}"
            ref_s, ours_s, entry_s, f64_s, bound32_s, bound64_s = interleaved_best(
                [lambda: run_reference(exact), lambda: ours.encoding(tensor32), lambda: ours.features(tensor32),
                 lambda: ours64.encoding(tensor64), probe(pair.bound, torch.float32), probe(pair.bound, torch.float64)],
                rounds,
            )
        elements = out32.numel()
        fraction = (elements / ours_s) / (PROBE_SIZE / bound32_s)
        f64_fraction = (elements / f64_s) / (PROBE_SIZE / bound64_s)
        ratio = ref_s / ours_s
        target = "—" if pair.target is None else f"{pair.target:.0f}x {'ok' if ratio >= pair.target else 'NO'}"
        at_bound = f"{ratio / fraction:7.1f}x" if pair.one_bound_op_per_feature else "—"
        print(f"{pair.encoding:20s} {pair.repo + ' ' + pair.reference:58s} {dims:>9s} {agreement:>33s} {ref_s * 1e3:7.3f} {ours_s * 1e3:7.3f} "
              f"{ratio:5.1f}x {target:>7s} {ref_s / entry_s:5.1f}x {f64_s * 1e3:7.3f} {pair.bound:>5s} {fraction:5.2f} {f64_fraction:5.2f} {at_bound:>8s}")
        if pair.match.startswith("differs"):
            print(f"{'':20s} (formula {pair.match})")


def check_cost(points: np.ndarray, rounds: int) -> None:
    """Bare encoding vs the validated entry (fused check) vs the encoding behind the unfused check, and each check alone."""
    tensor32 = torch.from_numpy(points).float()
    print(f"\nentry check, {BATCH} points: M points/s (bare encoding | validated entry | behind the unfused check, the baseline)")
    for name in ("wrap", "xyz", "grid"):
        ours = encoder(name, {})
        with torch.inference_mode():
            bare, fused, unfused, fused_check, unfused_check_s = interleaved_best(
                [lambda: ours.encoding(tensor32), lambda: ours.features(tensor32), lambda: ours.encoding(unfused_check(tensor32)),
                 lambda: check_lonlat_tensor(tensor32), lambda: unfused_check(tensor32)],
                rounds,
            )
        print(f"{name:20s} {BATCH / bare / 1e6:8.1f} | {BATCH / fused / 1e6:8.1f} | {BATCH / unfused / 1e6:8.1f}   "
              f"(the check alone: fused {fused_check * 1e6:5.1f} µs, unfused {unfused_check_s * 1e6:5.1f} µs)")


def grid_seconds(resolution: int, rounds: int) -> None:
    """Every registered encoding (defaults; geoclip's Fourier part alone) on all cell centres of an H3 resolution."""
    centres = torch.tensor(cell_centers(world_cells(resolution)), dtype=torch.float32)
    print(f"\nH3 resolution {resolution} world grid, {len(centres):,} cell centres: seconds (target < {RES3_TARGET_S} s for the default float32)")
    print(f"{'encoding':30s} {'dims':>5s} {'float32 s':>10s} {'float64 s':>10s} {'ok':>4s}")
    for name in ENCODINGS:
        if name == "wrap_ffn":
            continue
        ours, ours64 = encoder(name, {}), encoder(name, {}, "float64")
        part = (lambda e: e.encoding.fourier_features) if name == "geoclip" else (lambda e: e.encoding)
        with torch.inference_mode():
            checked64 = centres.double()
            s32, s64 = interleaved_best([lambda: part(ours)(centres), lambda: part(ours64)(checked64)], rounds)
        label = "geoclip (Fourier part; MLP: #15)" if name == "geoclip" else name
        print(f"{label:30s} {ours.encoding.out_dim:5d} {s32:10.4f} {s64:10.4f} {'yes' if s32 < RES3_TARGET_S else 'NO':>4s}")


def main(argv: list[str] | None = None) -> None:
    """Print the tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--torchspatial", type=Path, help="root of a seai-lab/TorchSpatial checkout")
    parser.add_argument("--csp", type=Path, help="root of a gengchenmai/csp checkout")
    parser.add_argument("--satclip", type=Path, help="root of a microsoft/satclip checkout")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads (default 1)")
    parser.add_argument("--rounds", type=int, default=15, help="interleaved timing rounds (the fastest counts)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 rounds, H3 resolution 1")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rounds = 3 if args.quick else args.rounds
    refs = load_references(args)
    np.random.seed(0)  # the references draw their random parameters (RFF) from numpy's global generator
    torch.manual_seed(0)
    points = sample_sphere(BATCH, np.random.default_rng(0))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s) on {os.cpu_count()} CPUs, load average {load}; "
          f"batch {BATCH}, fastest of {rounds} interleaved rounds")
    compare(PAIRS, refs, points, rounds)
    check_cost(points, rounds)
    grid_seconds(1 if args.quick else RES3, rounds)
    print(f"\nload average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
