"""shieldkit: deployment-time protection for image classifiers.

The calls a user makes, one per CLI command: ``train``, ``protect``, ``harden`` (training, :mod:`shieldkit.api`);
``export``, ``load_runtime`` (artefacts, :mod:`shieldkit.exporters`); ``verify``, ``evaluate`` (attacks,
:mod:`shieldkit.verify`); and ``create_model``, ``load_model``, ``load_dataset``.
"""

import importlib

from .api import harden, protect, train
from .checkpoint import load_model, save_checkpoint
from .data import load_dataset
from .errors import ShieldkitError
from .models import create_model, list_models
from .version import __version__

# exporters/ and verify/ build on the core, so the core cannot import them at the top without a cycle
# (shieldkit -> shieldkit.exporters -> shieldkit.runs -> shieldkit): they load on first use (PEP 562).
# ``verify`` is the subpackage itself, made callable (``shieldkit.verify(artefact, data)``): importing a subpackage
# sets it as an attribute of its parent, so a function could not keep that name.
_LATER = {"export": "shieldkit.exporters", "load_runtime": "shieldkit.exporters", "evaluate": "shieldkit.verify"}


def __getattr__(name: str):
    if name == "verify":
        return importlib.import_module("shieldkit.verify")
    if name in _LATER:
        return getattr(importlib.import_module(_LATER[name]), name)
    raise AttributeError(f"module 'shieldkit' has no attribute {name!r}")


__all__ = ["__version__", "train", "protect", "harden", "export", "load_runtime", "verify", "evaluate",
           "create_model", "list_models", "load_model", "save_checkpoint", "load_dataset", "ShieldkitError"]
