"""Training steps by name: plain, rml, nasty, kd, pseudo-label."""

from .base import METHODS, Method
from .distill import HintonKD, PseudoLabel
from .nasty import Nasty
from .plain import Plain
from .rml import RML

__all__ = ["METHODS", "Method", "HintonKD", "Nasty", "PseudoLabel", "Plain", "RML"]
