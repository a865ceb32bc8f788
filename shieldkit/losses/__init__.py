"""Loss functions: small pure functions of logits, targets and hyper-parameters."""

from .adversarial import (ARD_LEVELS, ard_goldblum_loss, ard_ranking_loss, kl_from_logits, rslad_loss,
                          trades_loss)
from .kd import hinton_kd_loss, kd_loss
from .nasty import nasty_loss
from .skeptical import skeptical_loss
from .ranking import (categorical_ranking_loss, discrepancy_ranking_loss, rank_agreement, sample_pairs,
                      sample_ranking_loss, soft_ranks)
from .rml import (NEGATIVE_TARGETS, TEMPLATE_MARGIN, binary_loss, binary_probs, negatives_loss, negatives_target,
                  non_target_logits, rml_loss, template_loss)

__all__ = ["ARD_LEVELS", "ard_goldblum_loss", "ard_ranking_loss", "kl_from_logits", "rslad_loss", "trades_loss",
           "hinton_kd_loss", "kd_loss", "nasty_loss", "skeptical_loss", "categorical_ranking_loss", "discrepancy_ranking_loss",
           "rank_agreement", "sample_pairs", "sample_ranking_loss", "soft_ranks", "NEGATIVE_TARGETS", "binary_loss",
           "binary_probs", "negatives_loss", "negatives_target", "non_target_logits", "rml_loss", "TEMPLATE_MARGIN", "template_loss"]
