"""Training steps by name: plain, rml, nasty, kd, pseudo-label, pgd-at, trades, rslad, ard-goldblum, ard."""

from .adversarial import PGDAT, TRADES
from .ard import ARD
from .ard_goldblum import ARDGoldblum
from .base import METHODS, Method
from .distill import HintonKD, PseudoLabel
from .nasty import Nasty
from .plain import Plain
from .rml import RML
from .rslad import RSLAD

__all__ = ["METHODS", "Method", "ARD", "ARDGoldblum", "HintonKD", "Nasty", "PGDAT", "PseudoLabel", "Plain", "RML",
           "RSLAD", "TRADES"]
