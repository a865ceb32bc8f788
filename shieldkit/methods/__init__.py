"""Training steps by name: plain, rml, nasty, kd."""

from .base import METHODS, Method
from .distill import HintonKD
from .nasty import Nasty
from .plain import Plain
from .rml import RML

__all__ = ["METHODS", "Method", "HintonKD", "Nasty", "Plain", "RML"]
