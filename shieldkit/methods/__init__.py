"""Training steps by name: plain, rml, nasty, kd, pseudo-label, pgd-at, trades, rslad, ard-goldblum, ard.

The commands choose among them through :mod:`.options`' registries (``ADVERSARIAL_TRAINING``, ``HARDENING``,
``PROTECTIONS``); importing this package registers every method shipped here.
"""

from .adversarial_training import PGDAT, TRADES, adversarial_training
from .ard import ARD
from .ard_goldblum import ARDGoldblum
from .base import Method
from .distill import HintonKD, PseudoLabel, SkepticalKD
from .nasty import Nasty, NastySettings
from .options import (ADVERSARIAL_TRAINING, HARDENING, PROTECTIONS, Hardening, HardenSettings, Protection,
                      TrainSettings)
from .plain import Plain
from .rml import RML, RMLSettings
from .rslad import RSLAD

__all__ = ["ADVERSARIAL_TRAINING", "HARDENING", "PROTECTIONS", "ARD", "ARDGoldblum",
           "Hardening", "HardenSettings", "HintonKD", "Method", "SkepticalKD", "Nasty", "PGDAT", "Protection", "TrainSettings",
           "NastySettings", "PseudoLabel", "Plain", "RML", "RMLSettings", "RSLAD", "TRADES", "adversarial_training"]
