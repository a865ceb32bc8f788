"""int8 graphs with ONNX Runtime's quantisation tools.

Static (QDQ, per-channel int8 weights, uint8 activations, MinMax calibration) when calibration
images are given; dynamic (weights only, activations quantised at run time) otherwise.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
import warnings
from pathlib import Path

import numpy as np

from shieldkit.errors import InputError


def quantize_int8(fp32_path: str | Path, out_path: str | Path, calibration: np.ndarray | None = None,
                  batch_size: int = 32) -> str:
    """Write an int8 version of ``fp32_path`` to ``out_path``; returns ``"static"`` or ``"dynamic"``."""
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self, images: np.ndarray, name: str) -> None:
            self.batches = iter([{name: np.ascontiguousarray(images[i:i + batch_size])}
                                 for i in range(0, len(images), batch_size)])

        def get_next(self):
            return next(self.batches, None)

    import onnx

    name = onnx.load(str(fp32_path), load_external_data=False).graph.input[0].name
    quiet = contextlib.redirect_stdout(io.StringIO())
    logging.getLogger("onnxruntime").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp, quiet, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pre = Path(tmp) / "pre.onnx"
        try:
            quant_pre_process(str(fp32_path), str(pre), skip_symbolic_shape=False)
        except Exception:  # noqa: BLE001 -- pre-processing is an optimisation; quantise the graph as it is
            pre = Path(fp32_path)
        try:
            if calibration is not None and len(calibration):
                quantize_static(str(pre), str(out_path), Reader(calibration, name), quant_format=QuantFormat.QDQ,
                                per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
                return "static"
            quantize_dynamic(str(pre), str(out_path), weight_type=QuantType.QInt8)
            return "dynamic"
        except Exception as e:  # noqa: BLE001
            raise InputError(f"int8 quantisation failed: {str(e).strip().splitlines()[0]}") from None
