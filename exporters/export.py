"""``export``: a model to a self-describing, tamper-evident artefact directory, checked on ONNX Runtime.

The directory holds ``model.onnx``, optionally ``model.int8.onnx``, ``manifest.json`` and, for a graph that
answers with its logits, ``model.safetensors``. A graph with an output head (``decision``/``confidence``) ships
without the plain network by default: whoever holds the files could read the weights and bypass the head, so
``with_weights=True`` (``--with-weights``, an audit bundle) is the explicit choice to ship them. It is built in a
temporary directory beside ``out`` and renamed into place only when everything (export, checker, parity) has
passed, so a failed export leaves nothing behind.

The ONNX output is named after what it answers (``logits``, ``confidence`` or ``decision``); with a head, the
manifest records the tensor the head reads (``output.pre_head``), and parity checks the graph cut there
(:mod:`.graph_cut`, what a file holder reaches) against the plain network.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from shieldkit.checkpoint import load_model
from shieldkit.data import Dataset
from shieldkit.errors import InputError, ParityError
from shieldkit.former_names import accepts_former_names
from shieldkit.models import NormalizedClassifier
from shieldkit.output_heads import DEFAULT_DECISION_CONFIDENCE, OutputHead, check_head, head_record
from shieldkit.outputs import check_output_dir, disk_error
from shieldkit.run_settings import DataSettings, ModelSource
from shieldkit.runs import as_model, check_compatible, load_with_settings
from shieldkit.settings import as_settings
from shieldkit.utils import umask_mode, write_json
from shieldkit.version import __version__

from .manifest import MANIFEST, SCHEMA, SCHEMA_VERSION, seal, sha256_file
from .parity import ParityThresholds, compare_logits, parity_failures, torch_logits
from .quantize import quantize_int8
from .records import Manifest, ParityReport
from .settings import GraphSettings, ParitySettings
from .runtime import make_session, provider_names, run_batched
from .to_onnx import MIN_OPSET, InputSpec, export_onnx, graph_module, input_spec
from .graph_cut import cut_session, pre_head_tensor
from .to_safetensors import export_safetensors


@dataclass
class ExportConfig:
    """Every setting of an export; stored in the manifest."""

    opset: int = MIN_OPSET
    batch: int | None = None  # None: dynamic batch axis
    input_format: str = "float"  # float (NCHW [0,1]) | uint8 (NHWC [0,255])
    quantize: str | None = None  # None | "int8"
    parity_n: int = 1000
    calibration_n: int = 512
    providers: str | list[str] | None = field(default_factory=lambda: ["CPUExecutionProvider"])  # normalised below
    max_abs_diff: float = 1e-3
    min_agreement: float = 0.999
    seed: int = 0
    head: str = "logits"  # the output head in the ONNX graph (shieldkit/output_heads.py)
    decision_confidence: float = DEFAULT_DECISION_CONFIDENCE
    with_weights: bool = False  # ship model.safetensors beside a head (the plain network bypasses the head)

    def __post_init__(self) -> None:
        check_head(self.head, self.decision_confidence)
        if self.quantize not in (None, "int8"):
            raise InputError(f"unknown quantisation {self.quantize!r}; valid: int8")
        if self.batch is not None and self.batch < 1:
            raise InputError(f"--batch-size must be 'dynamic' or a positive integer, got {self.batch}")
        if self.parity_n < 1:
            raise InputError(f"--n (parity images) must be at least 1, got {self.parity_n}")
        self.providers = provider_names(self.providers)


@dataclass
class ExportResult:
    """The artefact's directory and its manifest, typed (``manifest.to_dict()`` is ``manifest.json``)."""

    directory: Path
    manifest: Manifest

    def __repr__(self) -> str:
        m = self.manifest
        return (f"ExportResult({self.directory}: {m.model['arch']}, input {m.input['shape']} "
                f"{m.input['dtype']}, files {', '.join(m.files)})")

    @property
    def parity(self) -> ParityReport:
        return self.manifest.parity


def parse_batch(batch: str | int | None) -> int | None:
    """``"dynamic"``/``None`` -> None; ``"8"``/8 -> 8."""
    if batch is None or str(batch).lower() == "dynamic":
        return None
    try:
        return int(batch)
    except ValueError:
        raise InputError(f"--batch-size must be 'dynamic' or a positive integer, got {batch!r}") from None


def parse_shape(shape: str | Sequence[int] | None) -> tuple[int, int, int] | None:
    """``"3,32,32"``/``"3x32x32"`` -> (3, 32, 32)."""
    if shape is None:
        return None
    if isinstance(shape, str):
        try:
            shape = [int(s) for s in shape.replace("x", ",").split(",") if s.strip()]
        except ValueError:
            raise InputError(f"--input-shape must look like 3,32,32 (C,H,W), got {shape!r}") from None
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3 or min(shape) < 1:
        raise InputError(f"input shape must be C,H,W with positive sizes, got {shape}")
    return shape


def _in_graph_format(x_uint8_nhwc: torch.Tensor, spec: InputSpec) -> np.ndarray:
    if spec.dtype == "uint8":
        return x_uint8_nhwc.contiguous().numpy()
    return (x_uint8_nhwc.permute(0, 3, 1, 2).float() / 255.0).contiguous().numpy()


def _sample(n_total: int, n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randperm(n_total, generator=g)[:min(n, n_total)].sort().values


def _parity_images(ds: Dataset | None, chw: tuple[int, int, int], spec: InputSpec, n: int, seed: int):
    if ds is not None:
        idx = _sample(len(ds.test), n, seed)
        return (_in_graph_format(ds.test.x[idx], spec), ds.test.y[idx].numpy(),
                f"{len(idx)} {ds.name} test images (seed {seed})")
    g = torch.Generator().manual_seed(seed)
    c, h, w = chw
    x = torch.randint(0, 256, (n, h, w, c), generator=g, dtype=torch.uint8)
    return _in_graph_format(x, spec), None, f"{n} uniform random images (no --data given: real-image parity NOT measured)"


def _ort_logits(session, images: np.ndarray, spec: InputSpec) -> np.ndarray:
    """All images at batch 64, plus the first few at batch 1 and 7 (checks the dynamic axis)."""
    logits = run_batched(session, images, 64, spec.fixed_batch)
    if spec.fixed_batch is None:
        k = min(7, len(images))
        for b in (1, 7):
            small = run_batched(session, images[:k], b)
            if not np.allclose(small, logits[:k], atol=1e-4, rtol=1e-4):
                raise ParityError(f"ONNX Runtime gives different logits at batch size {b} than at batch 64 "
                                  f"(max |Δ| {np.abs(small - logits[:k]).max():.3g})")
    return logits


def _check_safetensors(path: Path, model: NormalizedClassifier, chw) -> bool:
    reloaded, _ = load_model(path)
    x = torch.rand(4, *chw, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        same = torch.equal(model.eval()(x), reloaded.eval()(x))
    if not same:
        raise ParityError(f"{path.name} reloaded into {model.arch} does not reproduce the model bit for bit")
    return True


def recorded_head(settings: dict | None) -> str:
    """The output head a ``protect`` run recorded in its checkpoint's settings (``head``, or ``outputs`` in runs
    before it was renamed), else ``logits``."""
    settings = settings or {}
    return check_head(settings.get("head") or settings.get("outputs") or "logits")


def portable(value):
    """``value`` with every absolute filesystem path replaced by its file name. The manifest ships with the
    artefact: it names files and their hashes, never the directories of the machine that built it."""
    if isinstance(value, dict):
        return {k: portable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [portable(v) for v in value]
    if isinstance(value, str) and os.path.isabs(value) and len(Path(value).parts) > 1:
        return Path(value).name
    return value


def ships_weights(cfg: ExportConfig) -> bool:
    """Whether ``model.safetensors`` goes into the artefact: always for a graph that answers with its logits
    (the file gives nothing the graph does not), beside a head only when asked (``with_weights``)."""
    return cfg.head == "logits" or cfg.with_weights


def _file_seat_parity(onnx_path: Path, tensor: str, module: nn.Module, cfg: ExportConfig, images, labels,
                      spec: InputSpec) -> dict:
    """The graph cut at ``tensor`` (what a file holder reaches) against the plain network in torch: the same
    figures as the answer's parity; a mismatch means the recorded pre-head tensor is not the network's logits."""
    session, _ = cut_session(onnx_path, tensor, lambda p: make_session(p, cfg.providers[:1], spinning=False))
    figures = compare_logits(torch_logits(graph_module(module, cfg.input_format), images),
                             run_batched(session, images, 64, spec.fixed_batch), labels)
    failures = parity_failures(figures, ParityThresholds(cfg.max_abs_diff, cfg.min_agreement))
    if failures:
        raise ParityError(f"the graph cut at its pre-head tensor {tensor!r} is not the plain network: "
                          + "; ".join(failures))
    return {**figures, "tensor": tensor, "provider": cfg.providers[0]}


def _replace_dir(tmp: Path, out: Path) -> None:
    """Move ``tmp`` onto ``out``; an existing ``out`` is swapped away first and removed after."""
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.replace(out, old / "dir")
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@accepts_former_names("export")
def export(model: str | Path | nn.Module, out: str | Path, *, data: str | Dataset | None = None,
           graph: GraphSettings | Mapping[str, Any] | None = None,
           parity: ParitySettings | Mapping[str, Any] | None = None,
           inputs: DataSettings | Mapping[str, Any] | None = None,
           source: ModelSource | Mapping[str, Any] | None = None, overwrite: bool = False, log=None) -> ExportResult:
    """Export ``model`` to the directory ``out`` and check it against ONNX Runtime.

    Writes ``model.onnx`` (+ ``model.int8.onnx`` with ``graph.quantize="int8"``), ``manifest.json`` and (see
    :func:`ships_weights`) ``model.safetensors``. Parity is measured on ``parity.n`` test images of ``data``
    (random images when no data is given, and the manifest says so). Raises :class:`ParityError` (exit 1) when
    the fp32 graph misses ``parity.max_abs_diff``/``min_agreement`` on any provider, and leaves nothing behind.

    ``graph.head`` is the output head the ONNX graphs answer with (:data:`~shieldkit.output_heads.OUTPUT_HEADS`:
    ``logits``, ``confidence``, ``decision``); None takes the one a ``protect`` run recorded in its checkpoint,
    else ``logits``. ``graph.with_weights`` also ships the plain network (``model.safetensors``) beside a head: an
    audit bundle, whose file seat is then the plain network. Each settings group is an object
    (:mod:`shieldkit.exporters.settings`, :mod:`shieldkit.run_settings`) or a mapping of its fields.
    """
    say = log or (lambda msg: None)
    graph, parity_settings = as_settings(GraphSettings, graph, "graph="), as_settings(ParitySettings, parity, "parity=")
    inputs, source = as_settings(DataSettings, inputs, "inputs="), as_settings(ModelSource, source, "source=")
    head, input_shape = graph.head, graph.input_shape
    cfg = ExportConfig(opset=graph.opset, batch=parse_batch(graph.batch_size), input_format=graph.input_format,
                       quantize=graph.quantize, parity_n=parity_settings.n, calibration_n=graph.calibration_n,
                       providers=parity_settings.providers, max_abs_diff=parity_settings.max_abs_diff,
                       min_agreement=parity_settings.min_agreement, seed=parity_settings.seed,
                       head=head or "logits", decision_confidence=graph.decision_confidence,
                       with_weights=graph.with_weights)
    out = Path(out)
    check_output_dir(out, "--out")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise InputError(f"--out {out} exists and is not empty; pass --overwrite to replace it")

    t0 = time.perf_counter()
    if data is not None:
        module, info, ds = load_with_settings(model, data, inputs, source)
    else:
        ds = None
        module, info = as_model(model, arch=source.arch, num_classes=source.num_classes,
                                trust_pickle=source.trust_pickle, mean=source.mean, std=source.std)
    if not isinstance(module, NormalizedClassifier):
        raise InputError(f"{info.source}: export needs a model it can rebuild (a shieldkit checkpoint, a "
                         f"state_dict/.safetensors file with --arch and --num-classes, or an nn.Module in Python), "
                         f"not a {info.format or type(module).__name__} module")
    module = module.cpu().float().eval()
    if head is None:
        cfg.head = recorded_head(info.settings)
    answered = module if cfg.head == "logits" else OutputHead(module, cfg.head, cfg.decision_confidence).eval()
    chw = parse_shape(input_shape)
    if ds is not None:
        if chw is not None and tuple(chw) != tuple(ds.input_shape):
            raise InputError(f"--input-shape {chw} disagrees with {ds.name} images {ds.input_shape}")
        chw = tuple(ds.input_shape)
        check_compatible(module, info, ds)
    chw = chw or (tuple(info.input_shape) if info.input_shape else None)
    if chw is None:
        raise InputError(f"{info.source} does not record its input shape: pass --input-shape C,H,W or --data")
    if module.in_chans != chw[0]:
        raise InputError(f"model {module.arch!r} takes {module.in_chans}-channel images, not {chw[0]} ({chw})")
    spec = input_spec(chw, cfg.input_format, cfg.batch)
    classes = info.classes or (ds.classes if ds is not None else None)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    os.chmod(tmp, umask_mode(directory=True))
    try:
        batch_text = "dynamic batch" if spec.fixed_batch is None else f"batch {spec.fixed_batch}"
        say(f"exporting {module.arch} to ONNX (opset {cfg.opset}, {spec.layout} {spec.dtype}, {batch_text})")
        t = time.perf_counter()
        if cfg.head != "logits":
            say(f"output head: {cfg.head} (docs/output-heads.md)"
                + ("; model.safetensors ships beside it (--with-weights)" if cfg.with_weights else
                   "; the plain network is not shipped (--with-weights ships it)"))
        export_onnx(answered, tmp / "model.onnx", spec, cfg.opset, output_name=cfg.head)
        onnx_seconds = time.perf_counter() - t
        pre_head = pre_head_tensor(tmp / "model.onnx") if cfg.head != "logits" else None
        if cfg.head != "logits" and pre_head is None:
            raise ParityError(f"the {cfg.head} head is not where the exporter should have put it (no ArgMax node in "
                              f"the graph)")
        safetensors_ok = None
        if ships_weights(cfg):
            export_safetensors(module, tmp / "model.safetensors", classes)
            safetensors_ok = _check_safetensors(tmp / "model.safetensors", module, chw)

        images, labels, source = _parity_images(ds, chw, spec, cfg.parity_n, cfg.seed)
        say(f"parity on {source}")
        reference = torch_logits(graph_module(answered, cfg.input_format), images)
        parity: dict = {"images": source, "thresholds": asdict(ParityThresholds(cfg.max_abs_diff, cfg.min_agreement)),
                        "fp32": {}, "safetensors_bit_identical": safetensors_ok}
        failures = []
        for provider in cfg.providers:
            session = make_session(tmp / "model.onnx", [provider], spinning=False)
            figures = compare_logits(reference, _ort_logits(session, images, spec), labels)
            parity["fp32"][provider] = figures
            failures += [f"{provider}: {r}" for r in parity_failures(figures, ParityThresholds(cfg.max_abs_diff,
                                                                                                cfg.min_agreement))]
        if failures:
            raise ParityError("ONNX Runtime parity failed: " + "; ".join(failures) + " (every provider: "
                              + ParityReport.from_dict(parity).by_provider() + ")")
        if pre_head is not None:
            parity["file_seat"] = _file_seat_parity(tmp / "model.onnx", pre_head, module, cfg, images, labels, spec)

        files = ["model.onnx"] + (["model.safetensors"] if ships_weights(cfg) else [])
        if cfg.quantize == "int8":
            calib = None
            if ds is not None:
                idx = _sample(len(ds.train), cfg.calibration_n, cfg.seed + 1)
                calib = _in_graph_format(ds.train.x[idx], spec)
            say("quantising to int8 (" + ("static, calibrated on "
                                          f"{len(calib)} {ds.name} training images" if calib is not None
                                          else "dynamic: no --data to calibrate on") + ")")
            mode = quantize_int8(tmp / "model.onnx", tmp / "model.int8.onnx", calib)
            session = make_session(tmp / "model.int8.onnx", cfg.providers[:1], spinning=False)
            int8 = compare_logits(reference, run_batched(session, images, 64, spec.fixed_batch), labels)
            parity["int8"] = {**int8, "mode": mode, "calibration_images": 0 if calib is None else len(calib),
                              "provider": cfg.providers[0]}
            if pre_head is not None:
                parity["int8"]["pre_head"] = pre_head_tensor(tmp / "model.int8.onnx")
            files.append("model.int8.onnx")

        manifest = _manifest(module, info, spec, cfg, classes, parity, ds, onnx_seconds, time.perf_counter() - t0,
                             pre_head)
        manifest = seal(manifest, tmp, files)
        write_json(manifest, tmp / MANIFEST)
        _replace_dir(tmp, out)
    except OSError as e:  # a full disk, a vanished directory: one line naming where it happened
        raise disk_error(e, out) from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return ExportResult(out, Manifest.from_dict(manifest))


def _manifest(module: NormalizedClassifier, info, spec: InputSpec, cfg: ExportConfig, classes, parity: dict,
              ds: Dataset | None, onnx_seconds: float, seconds: float, pre_head: str | None) -> dict:
    import onnx
    import onnxruntime

    source = Path(info.source) if info.source and Path(info.source).is_file() else None
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "shieldkit_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": {"torch": torch.__version__, "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__},
        "model": {**module.spec(), "classes": classes},
        "input": spec.to_dict(),
        "output": {"name": cfg.head, "shape": [spec.shape[0], module.num_classes], "dtype": "float32",
                   **head_record(cfg.head, cfg.decision_confidence), "pre_head": pre_head,
                   "weights_shipped": ships_weights(cfg)},
        "onnx": {"opset": cfg.opset, "exporter": "torch.onnx.export(dynamo=True)", "export_seconds": onnx_seconds},
        "export_settings": {**asdict(cfg), "data": ds.describe() if ds is not None else None},
        "parity": parity,
        "provenance": {
            "source": portable(info.source),
            "source_format": info.format,
            "source_sha256": sha256_file(source) if source else None,
            "settings": portable(info.settings),
            "figures": info.figures,
        },
        "export_seconds": seconds,
    }
