"""Loss functions: small pure functions of logits, targets and hyper-parameters."""

from .kd import hinton_kd_loss, kd_loss
from .nasty import nasty_loss
from .rml import (REVERSE_MODES, binary_loss, binary_probs, non_target_logits, reverse_loss, reversed_negatives,
                  rml_loss)

__all__ = ["hinton_kd_loss", "kd_loss", "nasty_loss", "REVERSE_MODES", "binary_loss", "binary_probs",
           "non_target_logits", "reverse_loss", "reversed_negatives", "rml_loss"]
