"""Export cost and inference throughput: torch eager vs ONNX Runtime fp32 vs ONNX Runtime int8 (CPU).

For each architecture: export time, file sizes, parity, int8 accuracy on CIFAR-10 test images, and
images/s at batch 1 and 64 for torch eager, ORT fp32 and ORT int8 (static, calibrated on 512 training
images). Every throughput is also given as a ratio to torch eager measured in the same run:
timings alternate between the three engines for ``--rounds`` rounds of ``--seconds`` each and the
median is kept, so drift on a shared machine hits all three alike. Both torch and ORT use the same
number of intra-op threads.

The ResNet-8 is the trained teacher of ``benchmarks/protect_cifar10.py`` when its run directory
exists (so int8 accuracy is meaningful); other architectures are randomly initialised (their
throughput is what matters; their accuracy column is chance).

    python benchmarks/export_runtime.py --json benchmarks/results/export_runtime.json
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import alternating_median, environment, markdown_table, require_cifar10  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--archs", default="resnet8,mobilenetv2,resnet18")
    ap.add_argument("--teacher", default="benchmarks/runs/protect_cifar10/original.pt",
                    help="trained resnet8 checkpoint used for the resnet8 row when present")
    ap.add_argument("--batches", default="1,64")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", default="benchmarks/results/export_runtime.json")
    args = ap.parse_args()

    import torch

    from shieldkit.data import load_dataset
    from shieldkit.exporters import export, load_runtime
    from shieldkit.models import create_model
    from shieldkit.utils import configure_threads, write_json

    threads = configure_threads()
    data = load_dataset(str(require_cifar10()))
    data.name = "cifar10"
    batches = [int(b) for b in args.batches.split(",")]
    x_all = (data.test.x[:max(batches)].permute(0, 3, 1, 2).float() / 255).contiguous()
    rows, results = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for arch in args.archs.split(","):
            trained = arch == "resnet8" and Path(args.teacher).is_file()
            model = args.teacher if trained else create_model(arch, 10, mean=data.mean, std=data.std).eval()
            t0 = time.perf_counter()
            r = export(model, Path(tmp) / arch, data=data, graph={"quantize": "int8"}, parity={"n": 1000})
            export_s = time.perf_counter() - t0
            from shieldkit.checkpoint import load_model

            torch_model = load_model(Path(tmp) / arch / "model.safetensors")[0].eval()
            fp32 = load_runtime(Path(tmp) / arch, threads=threads)
            int8 = load_runtime(Path(tmp) / arch, variant="int8", threads=threads)

            def run_torch(x):
                with torch.inference_mode():
                    return torch_model(x)

            speed = {b: alternating_median({"torch eager": (run_torch, x_all[:b]),
                                            "ORT fp32": (fp32.predict, x_all[:b].numpy()),
                                            "ORT int8": (int8.predict, x_all[:b].numpy())}, args.rounds, args.seconds)
                     for b in batches}
            files = {k: v["bytes"] for k, v in r.manifest.files.items()}
            p32 = r.parity.fp32["CPUExecutionProvider"].to_dict()
            p8 = r.parity.int8.to_dict()
            result = {"arch": arch, "trained": trained, "export_seconds": export_s, "file_bytes": files,
                      "parity_fp32": p32, "parity_int8": p8, "images_per_second": speed,
                      "ratio_to_torch": {b: {k: v / s["torch eager"] for k, v in s.items()} for b, s in speed.items()}}
            results.append(result)
            for b in batches:
                s = speed[b]
                rows.append([arch + ("" if trained else " (random init)"), b, f"{s['torch eager']:.0f}",
                             f"{s['ORT fp32']:.0f} ({s['ORT fp32'] / s['torch eager']:.2f}×)",
                             f"{s['ORT int8']:.0f} ({s['ORT int8'] / s['torch eager']:.2f}×)",
                             f"{export_s:.1f}", f"{files['model.onnx'] / 1e6:.2f} / {files['model.int8.onnx'] / 1e6:.2f}",
                             f"{p32['max_abs_diff']:.1e}", f"{p32['accuracy']:.2f} → {p8['accuracy']:.2f}"])
            print(f"{arch}: done", file=sys.stderr)
    head = ["model", "batch", "torch eager img/s", "ORT fp32 img/s (ratio)", "ORT int8 img/s (ratio)", "export s",
            "onnx / int8 MB", "fp32 max|Δ|", "acc fp32 → int8 (1000 test)"]
    print(markdown_table(head, rows))
    write_json({"environment": {**environment(), "ort_threads": threads}, "settings": vars(args),
                "results": results}, args.json)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
