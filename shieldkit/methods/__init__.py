"""Training steps by name: plain, rml, nasty, kd, pseudo-label, pgd-at, trades, rslad, ard-goldblum, ard.

The commands choose among them through :mod:`.options`' registries (``ADVERSARIAL_TRAINING``, ``HARDENING``,
``PROTECTIONS``); importing this package registers every method shipped here.
"""

from .adversarial_training import PGDAT, TRADES, adversarial_training
from .ard import ARD
from .ard_goldblum import ARDGoldblum
from .base import Method
from .distill import HintonKD, PseudoLabel
from .nasty import Nasty
from .options import (ADVERSARIAL_TRAINING, HARDENING, PROTECTIONS, AttackOptions, Hardening, HardenOptions,
                      ProtectOptions, Protection)
from .plain import Plain
from .rml import RML
from .rslad import RSLAD

__all__ = ["ADVERSARIAL_TRAINING", "HARDENING", "PROTECTIONS", "ARD", "ARDGoldblum", "AttackOptions",
           "Hardening", "HardenOptions", "HintonKD", "Method", "Nasty", "PGDAT", "ProtectOptions", "Protection",
           "PseudoLabel", "Plain", "RML", "RSLAD", "TRADES", "adversarial_training"]
