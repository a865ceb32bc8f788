"""Saving and loading models, safe by default.

Formats read by :func:`load_model`:
- a shieldkit checkpoint (``torch.save`` of plain tensors and containers: arch, num_classes,
  normalisation, class names, settings, figures, state_dict);
- a bare state_dict (``.pt``/``.pth``) or a ``.safetensors`` file, with ``arch``/``num_classes``;
- a TorchScript archive;
- a fully pickled ``nn.Module`` -- only with ``trust_pickle=True``, since unpickling runs code.

Every ``torch.load`` uses ``weights_only=True`` unless ``trust_pickle`` is given.
"""

from __future__ import annotations

import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from .errors import InputError, ModelLoadError
from .models import NormalizedClassifier, create_model
from .utils import atomic_torch_save

FORMAT = "shieldkit-checkpoint"
FORMAT_VERSION = 1


@dataclass
class ModelInfo:
    """What is known about a loaded model besides its weights."""

    arch: str
    num_classes: int
    classes: list[str] | None = None
    input_shape: list[int] | None = None
    settings: dict = field(default_factory=dict)
    figures: dict = field(default_factory=dict)
    source: str = ""
    format: str = ""
    # "file": the input mean/std came with the weights; "default": a bare network's weights, wrapped with
    # ImageNet statistics (or the mean/std passed in) -- commands that load data replace them with its own
    normalization: str = "file"


def save_checkpoint(path: str | Path, model: NormalizedClassifier, *, classes: list[str] | None = None,
                    input_shape: list[int] | tuple[int, ...] | None = None, settings: dict | None = None,
                    figures: dict | None = None) -> Path:
    """Write a shieldkit checkpoint atomically (temp file, then rename). Loadable with weights_only."""
    if not isinstance(model, NormalizedClassifier):
        raise InputError("only models built by shieldkit (create_model / a shieldkit checkpoint) can be saved "
                         "as shieldkit checkpoints")
    import json

    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        **model.spec(),
        "classes": list(classes) if classes is not None else None,
        "input_shape": list(input_shape) if input_shape is not None else None,
        # settings/figures go through JSON so the file holds only plain containers (weights_only-safe)
        "settings_json": json.dumps(settings or {}, default=str),
        "figures_json": json.dumps(figures or {}, default=str),
        "state_dict": state,
    }
    atomic_torch_save(payload, path)
    return Path(path)


def _check_finite(state: dict, source: str) -> None:
    for k, v in state.items():
        if torch.is_tensor(v) and v.is_floating_point() and not torch.isfinite(v).all():
            raise ModelLoadError(f"{source}: weight {k!r} contains NaN or Inf values")


def _strip_prefixes(state: dict) -> dict:
    for prefix in ("module.", "_orig_mod."):
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    return state


def load_state_into(model: NormalizedClassifier, state: dict, source: str) -> bool:
    """Load a state_dict into ``model`` (with or without the normalisation wrapper's keys),
    listing every missing, unexpected or mis-shaped key on failure. Returns whether the file held the
    wrapper's mean/std (False: a bare network's weights)."""
    state = _strip_prefixes(dict(state))
    _check_finite(state, source)
    target: nn.Module = model
    if not any(k.startswith("net.") for k in state):
        target = model.net  # a plain network's state_dict: normalisation stays as built
        state = {k: v for k, v in state.items() if k not in ("mean", "std")}
    expected = target.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = sorted(f"{k}: file {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
                    for k in set(state) & set(expected) if tuple(state[k].shape) != tuple(expected[k].shape))
    if missing or unexpected or shapes:
        def few(items):
            return ", ".join(items[:5]) + (f" (+{len(items) - 5} more)" if len(items) > 5 else "")
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} keys: {few(missing)}")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} keys: {few(unexpected)}")
        if shapes:
            parts.append(f"{len(shapes)} shape mismatches: {few(shapes)}")
        raise ModelLoadError(f"{source} does not match arch {model.arch!r} with {model.num_classes} classes: "
                             + "; ".join(parts))
    target.load_state_dict(state)
    return target is model


NOT_A_MODEL = ("not a readable model file (expected a shieldkit checkpoint, a state_dict, a .safetensors file or a "
               "TorchScript archive)")


def _reason(e: BaseException) -> str:
    """The first line of an error, without torch's advice to retry with ``weights_only=False`` (which would
    unpickle, i.e. run, whatever the file holds)."""
    lines = [line for line in str(e).splitlines() if line.strip()]
    first = lines[0] if lines else type(e).__name__
    if "weights_only" in first or "Weights only load failed" in first:
        return "its contents are not a plain tensor archive"
    return first[:200]


def _is_onnx(path: Path) -> bool:
    """An ONNX protobuf starts with field 1 (ir_version, a varint: byte 0x08); torch files are zip or pickle."""
    with open(path, "rb") as f:
        head = f.read(2)
    return len(head) == 2 and head[0] == 0x08 and head[1] < 0x80 and not zipfile.is_zipfile(path)


def _safetensors_metadata(meta: dict, source: str) -> dict:
    """The shieldkit fields of a safetensors header (all strings in the file), parsed and checked."""
    import json

    out: dict = {"arch": meta.get("arch"), "model_kwargs": {}}
    try:
        if "num_classes" in meta:
            out["num_classes"] = int(meta["num_classes"])
            if out["num_classes"] < 2:
                raise ValueError("fewer than 2 classes")
        if "model_kwargs" in meta:
            out["model_kwargs"] = json.loads(meta["model_kwargs"])
            if not isinstance(out["model_kwargs"], dict):
                raise ValueError("model_kwargs is not a JSON object")
        if "classes" in meta:
            out["classes"] = json.loads(meta["classes"])
            if not (isinstance(out["classes"], list) and all(isinstance(c, str) for c in out["classes"])):
                raise ValueError("classes is not a JSON list of names")
    except ValueError as e:  # json.JSONDecodeError is a ValueError
        raise ModelLoadError(f"{source}: corrupt shieldkit metadata in the safetensors header ({e})") from None
    return out


def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return any(n.endswith("constants.pkl") or "/code/" in n for n in z.namelist())


def _holds_code(path: Path) -> bool:
    """Whether a pickle (raw, or ``data.pkl`` inside a torch zip) imports or calls anything, read without running it."""
    import pickletools

    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                name = next((n for n in z.namelist() if n.endswith("data.pkl")), None)
                data = z.read(name) if name else b""
        else:
            data = path.read_bytes()
        return any(op.name in {"GLOBAL", "STACK_GLOBAL", "INST", "OBJ", "REDUCE"} for op, _, _ in pickletools.genops(data))
    except Exception:  # noqa: BLE001 -- not a parseable pickle: corrupt, not code
        return False


def load_model(path: str | Path, *, arch: str | None = None, num_classes: int | None = None,
               mean: list[float] | None = None, std: list[float] | None = None, trust_pickle: bool = False,
               map_location: str = "cpu") -> tuple[nn.Module, ModelInfo]:
    """Load a model from any supported file; returns ``(model in eval mode, ModelInfo)``."""
    import json

    path = Path(path)
    source = str(path)
    if path.is_dir():
        hint = (f"; give its weights, {path / 'model.safetensors'}" if (path / "model.safetensors").is_file() else "")
        raise ModelLoadError(f"{source} is a directory, not a model file{hint}")
    if not path.is_file():
        raise ModelLoadError(f"model file not found: {path}")
    if path.stat().st_size == 0:
        raise ModelLoadError(f"{source} is empty (0 bytes): not a model file")
    if path.suffix == ".onnx" or _is_onnx(path):
        raise ModelLoadError(f"{source} is an ONNX graph, which this command cannot train or load as weights; give the "
                             f"checkpoint it was exported from, or the artefact's model.safetensors")

    def build(a: str | None, n: int | None, m=None, s=None, kw=None) -> NormalizedClassifier:
        if not a or not n:
            raise ModelLoadError(f"{source} holds bare weights: pass --arch and --num-classes")
        return create_model(a, n, mean=m or mean, std=s or std, **(kw or {}))

    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
                state = {k: f.get_tensor(k) for k in f.keys()}
        except (SafetensorError, OSError, ValueError) as e:
            raise ModelLoadError(f"{source}: not a readable safetensors file ({e})") from None
        meta = _safetensors_metadata(meta, source)
        if arch and meta.get("arch") and arch != meta["arch"]:
            raise ModelLoadError(f"{source} holds a {meta['arch']!r} model, not {arch!r}")
        if num_classes and meta.get("num_classes") and num_classes != meta["num_classes"]:
            raise ModelLoadError(f"{source} holds a {meta['num_classes']}-class model, not {num_classes}")
        model = build(arch or meta.get("arch"), num_classes or meta.get("num_classes"), kw=meta["model_kwargs"])
        wrapped = load_state_into(model, state, source)
        classes = meta.get("classes")
        return model.eval(), ModelInfo(model.arch, model.num_classes, classes, source=source, format="safetensors",
                                       normalization="file" if wrapped or mean else "default")

    if _is_torchscript(path):
        try:
            module = torch.jit.load(str(path), map_location=map_location)
        except Exception as e:  # noqa: BLE001
            raise ModelLoadError(f"{source}: not a loadable TorchScript archive ({e})") from None
        return module.eval(), ModelInfo(arch or "torchscript", int(num_classes or 0), source=source, format="torchscript")

    try:
        obj = torch.load(path, map_location=map_location, weights_only=not trust_pickle)
    except pickle.UnpicklingError as e:
        if not trust_pickle and ("Unsupported global" in str(e) or _holds_code(path)):
            raise ModelLoadError(f"{source} is a full pickle, and unpickling can run arbitrary code: refusing to load "
                                 f"it; pass --trust-pickle (trust_pickle=True) only if you trust its origin") from None
        raise ModelLoadError(f"{source}: {NOT_A_MODEL}") from None
    except (RuntimeError, EOFError, OSError, ValueError, AttributeError, ImportError, IndexError, KeyError) as e:
        raise ModelLoadError(f"{source}: {NOT_A_MODEL} ({_reason(e)})") from None

    if isinstance(obj, nn.Module):
        if isinstance(obj, NormalizedClassifier):
            return obj.eval(), ModelInfo(obj.arch, obj.num_classes, source=source, format="pickled-module")
        return obj.eval(), ModelInfo(arch or type(obj).__name__, int(num_classes or 0), source=source,
                                     format="pickled-module")
    if not isinstance(obj, dict):
        raise ModelLoadError(f"{source}: expected a checkpoint or state_dict, found {type(obj).__name__}")
    if obj.get("format") == FORMAT:
        if arch and arch != obj["arch"]:
            raise ModelLoadError(f"{source} is a {obj['arch']!r} checkpoint, not {arch!r}")
        model = build(obj["arch"], obj["num_classes"], obj["mean"], obj["std"], obj.get("model_kwargs"))
        load_state_into(model, obj["state_dict"], source)
        info = ModelInfo(model.arch, model.num_classes, obj.get("classes"), obj.get("input_shape"),
                         json.loads(obj.get("settings_json", "{}")), json.loads(obj.get("figures_json", "{}")),
                         source, "shieldkit")
        return model.eval(), info
    for key in ("state_dict", "model", "model_state_dict", "net"):
        if isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not obj or not all(torch.is_tensor(v) for v in obj.values()):
        raise ModelLoadError(f"{source}: a dict, but not a state_dict of tensors nor a shieldkit checkpoint")
    model = build(arch, num_classes)
    wrapped = load_state_into(model, obj, source)
    return model.eval(), ModelInfo(model.arch, model.num_classes, source=source, format="state_dict",
                                   normalization="file" if wrapped or mean else "default")
