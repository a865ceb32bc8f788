"""ONNX graphs from shieldkit models, through ``torch.onnx.export`` (the dynamo exporter).

The graph takes images exactly as a device has them:

- ``input_format="float"``: float32, NCHW, values in [0, 1]; normalisation happens inside the graph
  (it is part of :class:`~shieldkit.models.NormalizedClassifier`);
- ``input_format="uint8"``: raw camera bytes, uint8, NHWC, values in [0, 255]; the graph computes
  ``x = permute(bytes, NHWC -> NCHW) / 255`` before the model.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from shieldkit.errors import InputError

INPUT_FORMATS = ("float", "uint8")
MIN_OPSET = 18
INPUT_NAME = "images"
OUTPUT_NAME = "logits"


@dataclass(frozen=True)
class InputSpec:
    """How the exported graph wants its input: what a device must feed it."""

    shape: list  # [batch, ...] where batch is "batch" (dynamic) or an int
    dtype: str
    layout: str
    value_range: list[float]
    name: str = INPUT_NAME

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "InputSpec":
        return cls(shape=list(d["shape"]), dtype=d["dtype"], layout=d["layout"], value_range=list(d["value_range"]),
                   name=d.get("name", INPUT_NAME))

    @property
    def fixed_batch(self) -> int | None:
        return self.shape[0] if isinstance(self.shape[0], int) else None


def input_spec(chw: tuple[int, int, int], input_format: str = "float", batch: int | None = None) -> InputSpec:
    """The input a graph for images of shape ``chw`` takes (``batch=None``: any batch size)."""
    if input_format not in INPUT_FORMATS:
        raise InputError(f"unknown input format {input_format!r}; valid: {', '.join(INPUT_FORMATS)}")
    c, h, w = chw
    b = "batch" if batch is None else int(batch)
    if input_format == "uint8":
        return InputSpec([b, h, w, c], "uint8", "NHWC", [0.0, 255.0])
    return InputSpec([b, c, h, w], "float32", "NCHW", [0.0, 1.0])


class UInt8Input(nn.Module):
    """``forward(bytes) = model(permute(bytes, NHWC -> NCHW) / 255)`` for uint8 ``bytes``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(images.permute(0, 3, 1, 2).to(torch.float32) / 255.0)


def graph_module(model: nn.Module, input_format: str) -> nn.Module:
    """The module whose graph is exported: ``model`` itself, or ``model`` behind :class:`UInt8Input`."""
    return UInt8Input(model).eval() if input_format == "uint8" else model.eval()


def example_input(spec: InputSpec, batch: int = 2, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    shape = [batch if spec.fixed_batch is None else spec.fixed_batch, *spec.shape[1:]]
    if spec.dtype == "uint8":
        return torch.randint(0, 256, shape, generator=g, dtype=torch.uint8)
    return torch.rand(shape, generator=g)


def export_onnx(model: nn.Module, path: str | Path, spec: InputSpec, opset: int = MIN_OPSET,
                output_name: str = OUTPUT_NAME) -> Path:
    """Export ``model`` (taking [0, 1] NCHW floats) to ``path`` for inputs described by ``spec``; the graph's
    output is called ``output_name`` (what it answers: logits, confidence, decision).

    The batch axis is dynamic unless ``spec`` fixes it. ``onnx.checker`` (full check, with shape
    inference) must pass. Raises :class:`InputError` when the model cannot take such inputs.
    """
    import onnx

    if opset < MIN_OPSET:
        raise InputError(f"opset {opset} is too old: the dynamo exporter needs opset >= {MIN_OPSET}")
    module = graph_module(model.cpu().float(), "uint8" if spec.dtype == "uint8" else "float")
    x = example_input(spec)
    with torch.no_grad():
        try:
            out = module(x)
        except RuntimeError as e:
            raise InputError(f"the model cannot take inputs of shape {list(x.shape)} ({spec.layout}, {spec.dtype}): "
                             f"{str(e).splitlines()[0]}") from None
    if out.dim() != 2:
        raise InputError(f"the model outputs shape {list(out.shape)}; a classifier must output (batch, classes)")
    if not torch.isfinite(out).all():
        raise InputError("the model outputs NaN or Inf logits on a test input; refusing to export it")
    arg_name = "images" if spec.dtype == "uint8" else "x"
    dynamic = None if spec.fixed_batch is not None else {arg_name: {0: torch.export.Dim("batch", min=1)}}
    buf = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(buf):
        warnings.simplefilter("ignore")
        try:
            program = torch.onnx.export(module, (x,), dynamo=True, opset_version=opset, input_names=[INPUT_NAME],
                                        output_names=[output_name], dynamic_shapes=dynamic, verbose=False,
                                        optimize=True)
        except Exception as e:  # noqa: BLE001 -- the exporter raises many types; one line for the user
            raise InputError(f"torch.onnx.export failed: {str(e).strip().splitlines()[0]}") from None
    path = Path(path)
    program.save(str(path))
    try:
        onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    except onnx.checker.ValidationError as e:
        raise InputError(f"the exported graph fails onnx.checker: {str(e).splitlines()[0]}") from None
    return path
