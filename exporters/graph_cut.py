"""Cutting an exported graph below its output head: what anyone holding ``model.onnx`` can do in one call.

An output head (shieldkit/output_heads.py) is a function of the logits z it reads: ``decision`` and
``confidence`` both start with t = ArgMax(z). So the tensor the head reads, its *pre-head tensor*, is the
input of the graph's first ArgMax node, and

    onnx.utils.extract_model(model.onnx, cut.onnx, [input], [pre-head tensor])

returns a graph that answers with the raw logits z. ``export`` records that tensor in the manifest
(``output.pre_head``) and checks the cut graph against the plain network; ``verify`` attacks the cut graph at
the ``file`` seat. The same search finds the tensor in a bare ``.onnx`` file without a manifest, as an attacker
reading the graph in a viewer would.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from shieldkit.errors import ArtefactError


def pre_head_tensor(model) -> str | None:
    """The tensor an output head reads in ``model`` (an ``onnx.ModelProto`` or a path): the data input of the
    first ArgMax node in graph order; None when the graph has no ArgMax (it answers with its logits)."""
    import onnx

    if not isinstance(model, onnx.ModelProto):
        model = onnx.load(str(model), load_external_data=False)
    for node in model.graph.node:
        if node.op_type == "ArgMax":
            return node.input[0]
    return None


def cut_at(src: str | Path, dst: str | Path, tensor: str) -> Path:
    """Write to ``dst`` the part of graph ``src`` that computes ``tensor`` from the graph's input (the head and
    anything else after it removed), through ``onnx.utils.extract_model``."""
    import onnx
    from onnx.utils import extract_model

    src, dst = Path(src), Path(dst)
    inputs = [i.name for i in onnx.load(str(src), load_external_data=False).graph.input]
    try:
        extract_model(str(src), str(dst), inputs, [tensor], check_model=True)
    except Exception as e:  # noqa: BLE001 -- onnx raises ValueError/KeyError/ValidationError for a bad cut
        raise ArtefactError(f"cannot cut {src.name} at tensor {tensor!r}: {str(e).strip().splitlines()[0]}") from None
    return dst


def cut_below_head(src: str | Path, dst: str | Path, tensor: str | None = None) -> tuple[Path, str] | None:
    """``(dst, tensor)``: the graph ``src`` cut at ``tensor`` (default: :func:`pre_head_tensor`); None when the
    graph has no output head to cut."""
    tensor = tensor or pre_head_tensor(src)
    if tensor is None:
        return None
    return cut_at(src, dst, tensor), tensor


def cut_session(src: str | Path, tensor: str | None, make_session):
    """``(session, tensor)`` of the graph ``src`` cut below its head, built with ``make_session(path)`` from a
    temporary file that is removed at once (the session keeps the graph in memory); None without a head."""
    with tempfile.TemporaryDirectory(prefix="shieldkit-cut-") as tmp:
        cut = cut_below_head(src, Path(tmp) / "cut.onnx", tensor)
        if cut is None:
            return None
        return make_session(cut[0]), cut[1]
