"""Oracles: what an attacker holds. One protocol, two kinds.

- :class:`TorchOracle` (white-box): logits and gradients of a torch module;
- :class:`OnnxOracle` (black-box): logits only, through ONNX Runtime, on the exported artefact.

Both take float images in [0, 1], NCHW, as torch tensors (an artefact exported with uint8 input
gets them rounded to bytes and transposed, exactly as a device would feed it), return float32
logits on the images' device, and count every image queried. With a ``budget`` a query that would
go past it raises :class:`QueryBudgetExceeded` before it runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from shieldkit.checkpoint import load_model
from shieldkit.data import iterate_batches
from shieldkit.data.preprocess import Preprocess
from shieldkit.errors import InputError, QueryBudgetExceeded
from shieldkit.exporters import load_runtime, make_session, sha256_file
from shieldkit.exporters.runtime import run_batched
from shieldkit.exporters.to_onnx import InputSpec
from shieldkit.runs import recorded_preprocess


class Oracle:
    """``oracle(images) -> logits``; ``queries`` counts images; ``white_box`` says whether gradients flow."""

    white_box = False
    kind = "oracle"

    def __init__(self, num_classes: int, budget: int | None = None) -> None:
        self.num_classes = int(num_classes)
        self.budget = budget
        self.queries = 0

    def _charge(self, n: int) -> None:
        if self.budget is not None and self.queries + n > self.budget:
            raise QueryBudgetExceeded(f"query budget of {self.budget} images exhausted ({self.queries} used, "
                                      f"{n} more asked)")
        self.queries += n

    @property
    def remaining(self) -> int | None:
        return None if self.budget is None else self.budget - self.queries

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        self._charge(len(images))
        return self._logits(images)

    def _logits(self, images: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def describe(self) -> dict:
        return {"kind": self.kind, "white_box": self.white_box, "num_classes": self.num_classes, "budget": self.budget}


class TorchOracle(Oracle):
    """A torch module as a white-box oracle. ``oracle(x)`` runs without gradients; ``oracle.module``
    is there for attacks that differentiate through the model (its parameters are frozen)."""

    white_box = True
    kind = "torch"

    def __init__(self, module: nn.Module, num_classes: int | None = None, budget: int | None = None,
                 device: str | torch.device | None = None, source: str = "<in-memory module>",
                 sha256: dict[str, str] | None = None) -> None:
        num_classes = num_classes or getattr(module, "num_classes", None)
        if not num_classes:
            raise InputError("TorchOracle needs num_classes for a module that does not record it")
        super().__init__(num_classes, budget)
        self.module = module.eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        if device is not None:
            self.module.to(device)
        self.source = source
        self.sha256 = dict(sha256 or {})

    def _logits(self, images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.module(images).float()

    def differentiable(self, images: torch.Tensor) -> torch.Tensor:
        """Logits with the autograd graph kept (white-box attacks); counted like any query."""
        self._charge(len(images))
        return self.module(images).float()

    def describe(self) -> dict:
        return {**super().describe(), "source": self.source, "arch": getattr(self.module, "arch", None),
                "sha256": self.sha256}


class OnnxOracle(Oracle):
    """An exported artefact (directory, checked against its manifest) or a bare ``.onnx`` file,
    queried through ONNX Runtime on explicit providers."""

    kind = "onnxruntime"

    def __init__(self, path: str | Path, providers: str | Sequence[str] | None = None, budget: int | None = None,
                 variant: str = "fp32", batch_size: int = 512, public_key: str | Path | None = None,
                 certificate_chain: Sequence[str | Path] | None = ()) -> None:
        path = Path(path)
        self.path = path
        self.batch_size = batch_size
        if path.is_dir():
            rt = load_runtime(path, providers=providers, variant=variant, spinning=False, public_key=public_key,
                              certificate_chain=certificate_chain)
            self.session, self.spec, self.manifest, self.signature = rt.session, rt.spec, rt.manifest, rt.signature
            self.sha256 = {k: v["sha256"] for k, v in rt.manifest["files"].items()}
            num_classes = rt.num_classes
        elif path.suffix == ".onnx" and path.is_file():
            if public_key is not None or certificate_chain:
                raise InputError(f"{path} is a bare ONNX file: only an artefact directory carries a signature")
            self.signature = None
            self.session = make_session(path, providers, spinning=False)
            shape = self.session.get_inputs()[0].shape
            dtype = "uint8" if "uint8" in self.session.get_inputs()[0].type else "float32"
            dims = [d if isinstance(d, int) else "batch" for d in shape]
            layout = "NHWC" if dtype == "uint8" else "NCHW"
            self.spec = InputSpec(dims, dtype, layout, [0.0, 255.0] if dtype == "uint8" else [0.0, 1.0],
                                  self.session.get_inputs()[0].name)
            self.manifest = None
            self.sha256 = {path.name: sha256_file(path)}
            num_classes = self.session.get_outputs()[0].shape[-1]
            if not isinstance(num_classes, int):
                raise InputError(f"{path}: cannot tell the number of classes from the graph's output shape")
        else:
            raise InputError(f"not an artefact directory or .onnx file: {path}")
        super().__init__(num_classes, budget)
        self.variant = variant

    @property
    def provider(self) -> str:
        return self.session.get_providers()[0]

    def _logits(self, images: torch.Tensor) -> torch.Tensor:
        x = images.detach().float().cpu()
        if self.spec.dtype == "uint8":
            arr = (x * 255).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()
        else:
            arr = x.contiguous().numpy()
        want = self.spec.shape[1:]
        if list(arr.shape[1:]) != list(want):
            raise InputError(f"the artefact takes images of shape {want} ({self.spec.layout}); got {list(arr.shape[1:])}")
        out = run_batched(self.session, arr, self.batch_size, self.spec.fixed_batch)
        return torch.from_numpy(np.ascontiguousarray(out)).float().to(images.device)

    def describe(self) -> dict:
        head = ((self.manifest or {}).get("output") or {}).get("head", "logits")
        return {**super().describe(), "path": str(self.path), "variant": self.variant, "provider": self.provider,
                "sha256": self.sha256, "input": self.spec.to_dict(), "output_head": head,
                "signature": self.signature}


def as_oracle(model, *, providers: str | Sequence[str] | None = None, budget: int | None = None,
              variant: str = "fp32", device: str | torch.device | None = None, trust_pickle: bool = False,
              public_key: str | Path | None = None, certificate_chain: Sequence[str | Path] | None = ()) -> Oracle:
    """An oracle from an oracle, a torch module, an artefact directory, a ``.onnx`` file, or a checkpoint.
    ``public_key`` (or ``certificate_chain``): the artefact directory's signature must verify with it (else
    :class:`~shieldkit.errors.SignatureError`); only artefact directories are signed."""
    if (public_key is not None or certificate_chain) and not (isinstance(model, (str, Path)) and Path(model).is_dir()):
        raise InputError("--public-key checks an artefact directory's signature; this model is not an artefact "
                         "directory (export it, sign it, then verify the directory)")
    if isinstance(model, Oracle):
        return model
    if isinstance(model, nn.Module):
        return TorchOracle(model, budget=budget, device=device)
    path = Path(model)
    if path.is_dir() or path.suffix == ".onnx":
        return OnnxOracle(path, providers=providers, budget=budget, variant=variant, public_key=public_key,
                          certificate_chain=certificate_chain)
    module, info = load_model(path, trust_pickle=trust_pickle)
    oracle = TorchOracle(module, num_classes=info.num_classes, budget=budget, device=device, source=str(path),
                         sha256={path.name: sha256_file(path)})
    oracle.info = info  # its recorded settings say how its data was preprocessed
    return oracle


def oracle_accuracy(oracle: Oracle, data, batch_size: int = 512, device: str | torch.device = "cpu") -> float:
    """Top-1 accuracy (%) of ``oracle`` on an :class:`~shieldkit.data.ImageArray`; these queries are not
    charged to any attack (they are the defender's own evaluation)."""
    saved_q, saved_b = oracle.queries, oracle.budget
    oracle.budget = None
    correct = 0
    try:
        for x, y in iterate_batches(data, batch_size, device=device):
            correct += (oracle(x).argmax(1) == y).sum().item()
    finally:
        oracle.queries, oracle.budget = saved_q, saved_b
    return 100.0 * correct / max(1, len(data))


def describe_oracle(oracle: Oracle, source) -> dict:
    """The oracle's description for a report, with the path the user gave (or an in-memory marker)."""
    d = oracle.describe()
    d["path"] = "<in-memory module>" if isinstance(source, nn.Module) else str(source)
    return d


def oracle_preprocess(oracle: Oracle):
    """How the data should be brought to size for ``oracle``: an artefact's recorded preprocessing (its export
    data, else its training run's), else the graph's square input size, else a checkpoint's recorded settings; so
    that ``verify``/``evaluate`` load the user's images the way the model was trained on them."""
    manifest = getattr(oracle, "manifest", None)
    if manifest:
        for data in ((manifest.get("export_settings") or {}).get("data"),
                     ((manifest.get("provenance") or {}).get("settings") or {}).get("data")):
            if isinstance(data, dict) and data.get("preprocess"):
                return Preprocess.from_dict(data["preprocess"])
    spec = getattr(oracle, "spec", None)
    if spec is not None:
        h, w = (spec.shape[1], spec.shape[2]) if spec.layout == "NHWC" else (spec.shape[2], spec.shape[3])
        return Preprocess(image_size=int(h)) if isinstance(h, int) and h == w else Preprocess()
    return recorded_preprocess(getattr(oracle, "info", None))


def check_oracle_data(oracle: Oracle, data, what: str) -> None:
    """``data`` must have one class per oracle output and, for an exported graph, its image shape."""
    if oracle.num_classes != data.num_classes:
        raise InputError(f"{what} outputs {oracle.num_classes} classes but {data.name} has {data.num_classes}")
    spec = getattr(oracle, "spec", None)
    if spec is not None:
        c, h, w = data.input_shape
        want = [h, w, c] if spec.layout == "NHWC" else [c, h, w]
        if list(spec.shape[1:]) != want:
            raise InputError(f"{what} takes images {spec.shape[1:]} ({spec.layout}) but {data.name} images are "
                             f"{list(data.input_shape)} (C,H,W)")
