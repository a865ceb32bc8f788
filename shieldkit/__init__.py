"""shieldkit: deployment-time protection for image classifiers.

Public API: ``train``, ``protect``, ``create_model``, ``load_model``, ``load_dataset``.
"""

__version__ = "0.1.0"

from .api import protect, train  # noqa: E402
from .checkpoint import load_model, save_checkpoint  # noqa: E402
from .data import load_dataset  # noqa: E402
from .errors import ShieldkitError  # noqa: E402
from .models import create_model, list_models  # noqa: E402

__all__ = ["__version__", "train", "protect", "create_model", "list_models", "load_model", "save_checkpoint",
           "load_dataset", "ShieldkitError"]
