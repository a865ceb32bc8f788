"""Training-step and inference throughput as ratios to a baseline measured in the same run.

Groups (each row's ratio is against the first row of its group; timings alternate between the rows
of a group for ``--rounds`` rounds of ``--seconds`` and the median is kept):

- protect: plain fine-tune step vs RML step (frozen original: one extra no-grad forward) vs Nasty
  step, on ``--arch`` (default ResNet-8), batch 128; target RML ≤ 1.35× a plain step's time;
- harden: PGD-AT vs RSLAD vs ARD step of a ``--student`` (CNN3-16) with a ``--arch`` teacher,
  PGD-10 inner loop, batch 128; target ARD ≤ 1.05× an RSLAD step's time;
- compile: plain step eager vs ``torch.compile`` (where the backend compiles on this machine);
- precision (one group per ``--precision-archs`` architecture, CIFAR-sized, batch 128): a plain training
  step in fp32 vs bf16 autocast, each with and without ``channels_last``, and with ``torch.compile`` on
  top of the best; then inference (batch 256) fp32 vs bf16. ``cnn3-16`` is the KD probe's student. For
  the slowest architecture the top operators of a bf16 step are recorded (``profile``);
- data: batches/s of the two data paths on CIFAR-10-sized uint8 data (crop + flip included): on-device
  slicing vs a DataLoader with ``--workers`` workers (pinned memory on CUDA, persistent workers);
- inference: torch eager vs ONNX Runtime (CPU provider) at batch 64; target ORT ≥ 2× torch eager; and
  ONNX Runtime fp32 vs int8 (static QDQ, ``export --quantize``) on ``--ort-arch`` (ResNet-20).

A "step" is method.step + backward + SGD step, exactly what ``shieldkit.engine.fit`` runs per batch
(inputs already on the device, as with the on-device data path). The protect and harden steps run in
the precision ``auto`` resolves to here (recorded), with channels_last; on CUDA peak memory per step is
reported.

    python benchmarks/throughput.py --json benchmarks/results/throughput.json
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import alternating_median, environment, markdown_table  # noqa: E402

TARGETS = {"rml": ("plain fine-tune", 1.35), "ard": ("rslad", 1.05)}  # step time ≤ factor × baseline step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default="resnet8")
    ap.add_argument("--student", default="cnn3")
    ap.add_argument("--student-width", type=int, default=16)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--pgd-steps", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--groups", default="data,protect,harden,compile,precision,inference")
    ap.add_argument("--precision-archs", default="resnet8,resnet20,mobilenetv2,cnn3-16")
    ap.add_argument("--ort-arch", default="resnet20")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", default="benchmarks/results/throughput.json")
    ap.add_argument("--update", action="store_true", help="with --groups ort_int8: replace only those rows in --json")
    args = ap.parse_args()
    if args.update:
        if args.groups != "ort_int8":
            raise SystemExit("error: --update measures only --groups ort_int8")
        from shieldkit.utils import configure_threads

        update_ort_int8(args.json, args.ort_arch, configure_threads(), args.rounds, args.seconds)
        return

    import torch

    from shieldkit.attacks import PGD
    from shieldkit.engine import prepare_model
    from shieldkit.precision import native_bf16, resolve_precision, train_autocast
    from shieldkit.methods import ARD, PGDAT, RML, RSLAD, Nasty, Plain
    from shieldkit.models import create_model
    from shieldkit.utils import configure_threads, resolve_device, write_json

    threads = configure_threads()
    dev = resolve_device(args.device)
    torch.manual_seed(0)
    x = torch.rand(args.batch, 3, 32, 32, device=dev)
    y = torch.randint(0, 10, (args.batch,), device=dev)
    auto = resolve_precision("auto", dev)

    def trainer(model, method, precision=auto, compiled=False, channels_last=True):
        model = prepare_model(model, dev, channels_last).train()
        method.to(dev, channels_last)
        fwd = torch.compile(model) if compiled else model
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        inp = x.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)

        def step(batch):  # batch is x (its size is what is counted); inp is x in this row's memory format
            with train_autocast(dev, precision):
                out = method.step(fwd, inp, y)
            opt.zero_grad(set_to_none=True)
            out["loss"].backward()
            opt.step()
            if dev.type == "cuda":
                torch.cuda.synchronize()
        return step

    def peak_mib(fn):
        if dev.type != "cuda":
            return None
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(dev)
        fn(x)
        return torch.cuda.max_memory_allocated(dev) / 2**20

    def new(arch, **kw):
        return create_model(arch, 10, **kw)

    groups = {}
    teacher = new(args.arch).eval()
    if "protect" in args.groups:
        groups["protect"] = {"plain fine-tune": trainer(copy.deepcopy(teacher), Plain()),
                             "rml": trainer(copy.deepcopy(teacher), RML(copy.deepcopy(teacher))),
                             "nasty": trainer(new(args.arch), Nasty(copy.deepcopy(teacher)))}
        if dev.type == "cuda":
            groups["protect"]["rml fp32"] = trainer(copy.deepcopy(teacher), RML(copy.deepcopy(teacher)), "fp32")
    if "harden" in args.groups:
        pgd = dict(eps=8 / 255, alpha=2 / 255, steps=args.pgd_steps)
        student = new(args.student, width=args.student_width) if args.student == "cnn3" else new(args.student)
        groups["harden"] = {"pgd-at": trainer(copy.deepcopy(student), PGDAT(PGD(loss="ce", **pgd))),
                            "rslad": trainer(copy.deepcopy(student), RSLAD(copy.deepcopy(teacher), PGD(loss="kl", **pgd))),
                            "ard": trainer(copy.deepcopy(student), ARD(copy.deepcopy(teacher), attack=PGD(loss="kl", **pgd)))}
    compile_error = None
    if "compile" in args.groups:
        try:
            compiled = trainer(copy.deepcopy(teacher), Plain(), compiled=True)
            compiled(x)  # compiles here; failures (no C++ toolchain, ...) are reported, not fatal
            groups["compile"] = {"plain eager": trainer(copy.deepcopy(teacher), Plain()), "plain compiled": compiled}
        except Exception as e:  # noqa: BLE001
            compile_error = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
    profile = None
    if "precision" in args.groups:
        precision_groups, profile = precision_rows(args.precision_archs.split(","), new, trainer, x, dev)
        groups.update(precision_groups)
    if "data" in args.groups:
        from shieldkit.data import Augment, ImageArray, iterate_batches
        from shieldkit.data.loader import LoaderBatches

        arr = ImageArray(torch.randint(0, 256, (10000, 32, 32, 3), dtype=torch.uint8), torch.randint(0, 10, (10000,)))
        aug = Augment(4, True)
        loader = LoaderBatches(arr, args.batch, augment=aug, seed=0, device=dev, workers=args.workers)

        def pull(make):
            state = {"it": iter(())}

            def fn(batch):
                try:
                    return next(state["it"])
                except StopIteration:
                    state["it"] = iter(make())
                    return next(state["it"])
            return fn

        groups = {"data": {"device (on-device slicing)": pull(lambda: iterate_batches(
                               arr, args.batch, shuffle=True, augment=aug, device=dev, drop_last=True)),
                           f"dataloader ({args.workers} workers)": pull(lambda: loader(0))}, **groups}
    rows, results = [], {}
    for group, fns in groups.items():
        speed = alternating_median({k: (fn, x) for k, fn in fns.items()}, args.rounds, args.seconds)
        base = next(iter(speed.values()))
        results[group] = {k: {"images_per_s": v, "time_ratio": base / v,
                              "peak_mib": None if group == "data" else peak_mib(fns[k])} for k, v in speed.items()}
        for k, r in results[group].items():
            verdict = ""
            if k in TARGETS:
                baseline, limit = TARGETS[k]
                r["time_vs_" + baseline] = speed[baseline] / speed[k]
                met = r["time_vs_" + baseline] <= limit
                verdict = f"{r['time_vs_' + baseline]:.3f}× {baseline} (≤ {limit}×) → {'met' if met else 'NOT met'}"
            rows.append([group, k, f"{r['images_per_s']:.0f}", f"{r['time_ratio']:.3f}×",
                         "-" if r["peak_mib"] is None else f"{r['peak_mib']:.0f}", verdict])
    if "inference" in args.groups:
        from shieldkit.exporters import export, load_runtime

        model = teacher.to("cpu").eval()
        with tempfile.TemporaryDirectory() as tmp:
            export(model, Path(tmp) / "m", graph={"input_shape": "3,32,32"}, parity={"n": 64})
            rt = load_runtime(Path(tmp) / "m", providers="cpu", threads=threads)
            x64 = torch.rand(64, 3, 32, 32)

            def eager(batch):
                with torch.inference_mode():
                    return model(batch)

            speed = alternating_median({"torch eager": (eager, x64), "onnxruntime cpu": (rt.predict, x64.numpy())},
                                       args.rounds, args.seconds)
        results["inference"] = {k: {"images_per_s": v, "speedup": v / speed["torch eager"]} for k, v in speed.items()}
        for k, r in results["inference"].items():
            verdict = "" if k == "torch eager" else f"≥ 2× → {'met' if r['speedup'] >= 2 else 'NOT met'}"
            rows.append(["inference (batch 64, CPU)", k, f"{r['images_per_s']:.0f}", f"{1 / r['speedup']:.3f}×", "-",
                         verdict])
    if "precision" in args.groups:
        for arch in args.precision_archs.split(","):
            inf = precision_inference(new(*family(arch)), dev, args.rounds, args.seconds)
            results[f"inference:{arch}"] = inf
            for k, r in inf.items():
                rows.append([f"inference:{arch} (batch 256)", k, f"{r['images_per_s']:.0f}", f"{r['time_ratio']:.3f}×",
                             "-", ""])
    if "inference" in args.groups:
        ort = ort_int8(new(args.ort_arch).eval(), threads, args.rounds, args.seconds)
        results["ort_int8"] = ort
        for k, r in ort.items():
            rows.append([f"onnxruntime {args.ort_arch} (batch 64, CPU)", k, f"{r['images_per_s']:.0f}",
                         f"{r['time_ratio']:.3f}×", "-", ""])
    head = ["group", "step", "img/s", "time vs first row", "peak MiB (CUDA)", "target"]
    table = markdown_table(head, rows)
    print(table)
    if compile_error:
        print(f"torch.compile unavailable here: {compile_error}")
    if profile:
        print(f"top operators of one {profile['arch']} bf16 + channels_last step (self CPU time):")
        for op in profile["ops"]:
            print(f"  {op['share']:5.1%}  {op['name']}")
    env = {**environment(), "device": str(dev), "threads": threads, "auto_precision": auto,
           "native_bf16": native_bf16(dev)}
    write_json({"settings": vars(args), "environment": env, "results": results, "compile_error": compile_error,
                "profile": profile, "table": table}, args.json)
    print(f"wrote {args.json}")


def family(name: str) -> tuple[str, ...]:
    """``cnn3-16`` (the KD probe's student) as (arch,) plus its width; any other name as itself."""
    return ("cnn3",) if name.startswith("cnn3") else (name,)


def precision_rows(archs, new, trainer, x, dev):
    """One group per architecture: fp32 / bf16, with and without channels_last, and compiled on top."""
    import torch

    from shieldkit.methods import Plain

    groups, slowest = {}, None
    for arch in archs:
        kw = {"width": int(arch.split("-")[1])} if arch.startswith("cnn3-") else {}
        model = new(*family(arch), **kw)
        rows = {}
        for precision in ("fp32", "bf16"):
            rows[precision] = trainer(copy.deepcopy(model), Plain(), precision, channels_last=False)
            rows[f"{precision} + channels_last"] = trainer(copy.deepcopy(model), Plain(), precision)
        for precision in ("fp32", "bf16"):
            try:
                fn = trainer(copy.deepcopy(model), Plain(), precision, compiled=True)
                fn(x)  # compiles here
                rows[f"{precision} + channels_last + compile"] = fn
            except Exception as e:  # noqa: BLE001 -- no toolchain: reported by the compile group
                print(f"torch.compile failed for {arch} {precision}: {type(e).__name__}")
        groups[f"precision:{arch}"] = rows
        if arch == "mobilenetv2":
            slowest = (arch, rows["bf16 + channels_last"])
    profile = None
    if slowest is not None:
        from torch.profiler import ProfilerActivity, profile as torch_profile

        slowest[1](x)
        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(2):
                slowest[1](x)
        events = prof.key_averages()
        total = sum(e.self_cpu_time_total for e in events) or 1.0
        top = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:8]
        profile = {"arch": slowest[0], "ops": [{"name": e.key, "share": e.self_cpu_time_total / total} for e in top]}
    return groups, profile


def precision_inference(model, dev, rounds, seconds):
    """Evaluation forward (batch 256, channels_last) in fp32 vs bf16 autocast."""
    import torch

    from shieldkit.precision import train_autocast

    model = model.to(dev).to(memory_format=torch.channels_last).eval()
    xb = torch.rand(256, 3, 32, 32, device=dev).contiguous(memory_format=torch.channels_last)

    def run(precision):
        def fn(batch):
            with torch.inference_mode(), train_autocast(dev, precision):
                return model(batch)
        return fn

    speed = alternating_median({"fp32": (run("fp32"), xb), "bf16": (run("bf16"), xb)}, rounds, seconds)
    return {k: {"images_per_s": v, "time_ratio": speed["fp32"] / v} for k, v in speed.items()}


def ort_int8(model, threads, rounds, seconds):
    """ONNX Runtime (CPU provider) at batch 64: the fp32 graph against both int8 graphs ``export --quantize int8``
    can write: static QDQ (with ``--data``: calibrated, here on random images, which is enough for speed but not
    for accuracy) and dynamic (without ``--data``: weights only, activations quantised at run time)."""
    import numpy as np
    import onnxruntime as ort
    import torch

    from shieldkit.exporters import export
    from shieldkit.exporters.quantize import quantize_int8

    with tempfile.TemporaryDirectory() as tmp:
        export(model.cpu(), Path(tmp) / "m", graph={"input_shape": "3,32,32"}, parity={"n": 64})
        fp32 = Path(tmp) / "m" / "model.onnx"
        calib = np.random.default_rng(0).random((128, 3, 32, 32), dtype=np.float32)
        quantize_int8(fp32, Path(tmp) / "static.onnx", calib)
        quantize_int8(fp32, Path(tmp) / "dynamic.onnx", None)
        x64 = torch.rand(64, 3, 32, 32).numpy()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        engines = {}
        for name, path in (("fp32", fp32), ("int8 static (QDQ)", Path(tmp) / "static.onnx"),
                           ("int8 dynamic", Path(tmp) / "dynamic.onnx")):
            sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
            feed = sess.get_inputs()[0].name
            engines[name] = ((lambda batch, s=sess, f=feed: s.run(None, {f: batch})), x64)
        speed = alternating_median(engines, rounds, seconds)
    return {k: {"images_per_s": v, "time_ratio": speed["fp32"] / v} for k, v in speed.items()}


def update_ort_int8(path: str, arch: str, threads: int, rounds: int, seconds: float) -> None:
    """``--groups ort_int8 --update``: measure only the int8 rows and put them into an existing JSON (its other
    groups, measured before, are kept as they were)."""
    import json

    from shieldkit.models import create_model
    from shieldkit.utils import write_json

    d = json.loads(Path(path).read_text())
    ort = ort_int8(create_model(arch, 10).eval(), threads, rounds, seconds)
    d["results"]["ort_int8"] = ort
    label = f"onnxruntime {arch} (batch 64, CPU)"
    lines = [ln for ln in d["table"].splitlines() if not ln.startswith(f"| {label}")]
    lines += [f"| {label} | {k} | {r['images_per_s']:.0f} | {r['time_ratio']:.3f}× | - |  |" for k, r in ort.items()]
    d["table"] = "\n".join(lines)
    d.setdefault("updates", []).append({"groups": "ort_int8", "rounds": rounds, "seconds": seconds})
    write_json(d, path)
    print("\n".join(lines[-len(ort):]))


if __name__ == "__main__":
    main()
