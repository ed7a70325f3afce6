"""Model-folder export (issue 19): export time and file sizes for the default run and GeoCLIP, and for every
registry encoding (bare) the max abs difference between the library's ``embed`` and the exported graphs,
TorchScript in an isolated interpreter without GeoCSP and ONNX in ONNX Runtime with torch blocked, on the
same points (both poles, ±180°, uniform on the sphere; the first row also as a batch of 1).

    python -m benchmarks.export_equivalence [--run runs/starter-pretrain] [--points 100000] [--geoclip-points 100000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from core.location import load_encoder
from core.location.export import export_encoder
from core.location.export.equivalence import check_portable, equivalence_points
from core.location.registry import ENCODINGS

ONNX_REFUSED = {"dfs"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", default="runs/starter-pretrain", help="the default run to export")
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--geoclip-points", type=int, default=100_000)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    sources = {"default run": args.run, "geoclip": "geoclip", **{f"encoding:{name}": f"encoding:{name}" for name in ENCODINGS}}
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        folders = {}
        print("| source | export s | encoder.safetensors | encoder.onnx | encoder.pt | MODEL_CARD.md |\n| --- | ---: | ---: | ---: | ---: | ---: |")
        for index, (name, source) in enumerate(sources.items()):
            formats = ("torchscript",) if source.removeprefix("encoding:") in ONNX_REFUSED else ("onnx", "torchscript")
            started = time.perf_counter()
            folder = export_encoder(source, root / f"model-{index}", formats)
            seconds = time.perf_counter() - started
            sizes = [f"{(folder / file).stat().st_size / 1e3:,.1f} kB" if (folder / file).exists() else "refused"
                     for file in ("encoder.safetensors", "encoder.onnx", "encoder.pt", "MODEL_CARD.md")]
            print(f"| {name} | {seconds:.1f} | " + " | ".join(sizes) + " |", flush=True)
            folders[name] = folder
        reports = {}
        for runtime in ("torchscript", "onnx"):
            cases = {
                f"case{index}": (load_encoder(folder), folder, equivalence_points(args.geoclip_points if name == "geoclip" else args.points))
                for index, (name, folder) in enumerate(folders.items())
                if not (runtime == "onnx" and name.removeprefix("encoding:") in ONNX_REFUSED)
            }
            reports[runtime] = check_portable(cases, runtime, root / f"check-{runtime}", timeout=3600)["cases"]
        print("\n| source | points | dim | TorchScript max abs diff (batch of 1) | ONNX Runtime max abs diff (batch of 1) | torch s / ORT s |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for index, name in enumerate(folders):
            ts, ort = reports["torchscript"][f"case{index}"], reports["onnx"].get(f"case{index}")
            onnx_cell = "refused" if ort is None else f"{ort['max_abs_diff']:.1e} ({ort['one_row_max_abs_diff']:.1e})"
            speed = "" if ort is None else f"{ts['seconds']:.2f} / {ort['seconds']:.2f}"
            print(f"| {name} | {ts['shape'][0]} | {ts['shape'][1]} | {ts['max_abs_diff']:.1e} ({ts['one_row_max_abs_diff']:.1e}) | {onnx_cell} | {speed} |")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
