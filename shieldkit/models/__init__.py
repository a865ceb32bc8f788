"""Model registry (``create_model``) and the architectures shieldkit ships."""

from .registry import MODELS, NormalizedClassifier, create_model, list_models, register_model, wrap_module
from . import mobilenetv2, resnet_cifar, shufflenetv2, small_cnn, wideresnet  # noqa: F401  (register)

__all__ = ["MODELS", "NormalizedClassifier", "create_model", "list_models", "register_model", "wrap_module"]
