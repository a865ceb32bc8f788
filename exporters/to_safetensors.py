"""Weights as ``.safetensors`` with enough metadata to rebuild the model (:func:`shieldkit.load_model` reads it)."""

from __future__ import annotations

import json
from pathlib import Path

from shieldkit.models import NormalizedClassifier
from shieldkit.version import __version__


def export_safetensors(model: NormalizedClassifier, path: str | Path, classes: list[str] | None = None,
                       extra: dict[str, str] | None = None) -> Path:
    """Write ``model``'s state_dict (normalisation buffers included) to ``path``.

    Metadata (all strings, as safetensors requires): ``format``, ``arch``, ``num_classes``,
    ``model_kwargs`` (JSON), ``classes`` (JSON), ``shieldkit_version``, and ``extra``.
    """
    from safetensors.torch import save

    state = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    meta = {"format": "shieldkit", "arch": model.arch, "num_classes": str(model.num_classes),
            "model_kwargs": json.dumps(model.model_kwargs), "shieldkit_version": __version__}
    if classes is not None:
        meta["classes"] = json.dumps(list(classes))
    meta.update(extra or {})
    data = save(state, metadata=meta)  # bytes, written with a plain write: a failed write is the OSError it is
    with open(path, "wb") as f:
        f.write(data)
    return Path(path)
