"""RML: Reversed Maximization Learning (Zhang, Li, Pan 2026), as implemented here (docs/rml.md).

The protected model f_p is fine-tuned from the original f_o with

    L = w_ce·CE(z_p, t) + α·L_bin + β·L_neg + λ·L_flat

- L_bin (binary term) sets the target class's confidence p_t against "all the rest";
- L_neg (negatives term) sets the distribution over the C − 1 non-target classes;
- L_flat (optional) pulls the non-target logits together in logit space, at every temperature.

Two choices define a variant:

- ``negatives``: the target of L_neg. ``mirror`` / ``negate`` invert the original's ranking of the
  negatives (the paper's reverse-ranking module, read literally); ``uniform`` removes it (every
  negative equally likely: "no confidence differences among negative classes").
- ``confidence``: the target of L_bin. ``original`` keeps each image's p_t (the paper's binary
  mechanism); ``equalized`` uses the batch mean of the original's p_t (one value for every image);
  a number C in (0, 1) fixes p_t = C.

``negatives="uniform", confidence=C, τ = 1, w_ce = 0`` makes the optimum of L a fixed logit margin
over exactly flat negatives: an output that carries nothing but the decision.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

NEGATIVE_TARGETS = ("mirror", "negate", "uniform")
CONFIDENCE_MODES = ("original", "equalized", "fixed:C")


def target_mask(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Boolean (B, C) mask, True at the target class of each row."""
    return torch.zeros_like(logits, dtype=torch.bool).scatter_(1, target.view(-1, 1), True)


def binary_probs(logits: torch.Tensor, target: torch.Tensor, tau: float) -> torch.Tensor:
    """b(z) = [p_t, 1 − p_t] with p = softmax(z/τ); shape (B, 2), rows sum to 1."""
    p_t = F.softmax(logits / tau, dim=1).gather(1, target.view(-1, 1))
    return torch.cat([p_t, 1.0 - p_t], dim=1)


def non_target_logits(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """z_{¬t}: the C − 1 non-target logits of each row, in class order; shape (B, C − 1)."""
    b, c = logits.shape
    return logits[~target_mask(logits, target)].view(b, c - 1)


def parse_confidence(confidence: str | float) -> str | float:
    """``"original"``, ``"equalized"``, or a fixed confidence C in (0, 1) (``0.9`` or ``"fixed:0.9"``)."""
    if isinstance(confidence, str) and confidence in ("original", "equalized"):
        return confidence
    text = confidence[len("fixed:"):] if isinstance(confidence, str) and confidence.startswith("fixed:") else confidence
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ValueError(f"confidence must be original, equalized or fixed:C with 0 < C < 1, got {confidence!r}") \
            from None
    if not (0.0 < value < 1.0) or math.isnan(value):
        raise ValueError(f"a fixed confidence must lie strictly between 0 and 1, got {value}")
    return value


def confidence_target(logits_original: torch.Tensor, target: torch.Tensor, tau: float,
                      confidence: str | float = "original") -> torch.Tensor:
    """The target p_t of the binary term, shape (B,):

    - ``original``: p_t(z_o) = softmax(z_o/τ)_t, per image;
    - ``equalized``: the batch mean of p_t(z_o), the same for every image;
    - C (a number): C for every image.
    """
    confidence = parse_confidence(confidence)
    if isinstance(confidence, float):
        return torch.full((len(target),), confidence, dtype=logits_original.dtype, device=logits_original.device)
    p_t = F.softmax(logits_original / tau, dim=1).gather(1, target.view(-1, 1)).squeeze(1)
    return p_t.mean().expand_as(p_t) if confidence == "equalized" else p_t


def negatives_target(logits_neg: torch.Tensor, tau: float, negatives: str = "mirror") -> torch.Tensor:
    """The target distribution over the negatives, from the original's non-target logits z_{¬t}:

    - ``mirror``: q = softmax(z_{¬t}/τ) sorted; the class with the k-th smallest probability receives the
      k-th largest value (same values and entropy, exactly inverted ranking);
    - ``negate``: softmax(−z_{¬t}/τ);
    - ``uniform``: 1/(C − 1) for every negative (no ranking at all).
    """
    if negatives == "uniform":
        return torch.full_like(logits_neg, 1.0 / logits_neg.shape[1])
    if negatives == "negate":
        return F.softmax(-logits_neg / tau, dim=1)
    if negatives != "mirror":
        raise ValueError(f"negatives must be one of {NEGATIVE_TARGETS}, got {negatives!r}")
    q = F.softmax(logits_neg / tau, dim=1)
    values, order = q.sort(dim=1)
    return torch.empty_like(q).scatter_(1, order, values.flip(1))



def _kl(p_target: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """KL(p || q) = Σ p (log p − log q), averaged over rows ('batchmean'); 0·log 0 taken as 0."""
    return (torch.xlogy(p_target, p_target) - p_target * log_q).sum(dim=1).mean()


def binary_loss(logits_protected: torch.Tensor, logits_original: torch.Tensor, target: torch.Tensor,
                tau: float, confidence: str | float = "original") -> torch.Tensor:
    """L_bin = τ² · KL([c, 1 − c] || b(z_p)), batchmean, with c = :func:`confidence_target` (by default the
    original's own p_t, i.e. KL(b(z_o) || b(z_p)))."""
    c = confidence_target(logits_original, target, tau, confidence).view(-1, 1)
    b_p = binary_probs(logits_protected, target, tau)
    return _kl(torch.cat([c, 1.0 - c], dim=1), b_p.clamp_min(1e-12).log()) * tau**2


def negatives_loss(logits_protected: torch.Tensor, logits_original: torch.Tensor, target: torch.Tensor,
                   tau: float, negatives: str = "mirror") -> torch.Tensor:
    """L_neg = τ² · KL(r || q(z_p)), q = softmax over the non-target classes at τ, r = :func:`negatives_target`
    of the original's negatives; batchmean."""
    r = negatives_target(non_target_logits(logits_original, target), tau, negatives)
    log_q_p = F.log_softmax(non_target_logits(logits_protected, target) / tau, dim=1)
    return _kl(r, log_q_p) * tau**2


def flatness_loss(logits_protected: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L_flat = mean over rows of Var_k(z_{p,¬t}) (population variance of the non-target logits).

    Zero exactly when every negative logit of a row is equal, whatever their level, so it holds at every
    temperature an attacker may distil at (a KL at one τ only flattens the negatives seen at that τ)."""
    return non_target_logits(logits_protected, target).float().var(dim=1, unbiased=False).mean()


# the logit template's default margin: softmax(M·onehot) gives the decision 0.9 among 10 classes, 9·e^0 vs e^M = 81
TEMPLATE_MARGIN = math.log(81.0)


def template_loss(logits_protected: torch.Tensor, target: torch.Tensor, margin: float = TEMPLATE_MARGIN
                  ) -> torch.Tensor:
    """L_tpl = mean over rows and classes of ((z − z̄) − M·(onehot(t) − 1/C))², z̄ the row's mean logit.

    The template M·onehot(t) is the logit vector of a model that says its decision and nothing else; the loss is
    zero exactly when a row equals it up to a constant shift, and being a distance between logits (not a KL at one
    τ) it constrains the output at every temperature an attacker may distil at."""
    z = logits_protected.float()
    c = z.shape[1]
    template = margin * (F.one_hot(target, c).float() - 1.0 / c)
    return ((z - z.mean(dim=1, keepdim=True)) - template).pow(2).mean()


def rml_loss(logits_protected: torch.Tensor, logits_original: torch.Tensor, target: torch.Tensor,
             alpha: float, beta: float, tau: float, negatives: str = "mirror", *, confidence: str | float = "original",
             ce_weight: float = 1.0, flatness: float = 0.0, template: float = 0.0,
             template_margin: float = TEMPLATE_MARGIN) -> dict[str, torch.Tensor]:
    """L = w_ce·CE(z_p, t) + α·L_bin + β·L_neg + λ·L_flat + μ·L_tpl (weighted terms returned by name; the caller
    sums them; μ = ``template``, L_tpl :func:`template_loss` at margin ``template_margin``).

    ``negatives`` is the negatives' target (:data:`NEGATIVE_TARGETS`), ``confidence`` the binary term's
    (:func:`confidence_target`). ``target`` is the label, or argmax z_o for label-free protection
    (pseudo-labels). ``logits_original`` is treated as a constant (no gradient flows into the original model).
    Terms whose weight is 0 are left out.
    """
    logits_original = logits_original.detach().float()
    logits_protected = logits_protected.float()
    terms = {}
    if ce_weight:
        terms["loss_ce"] = ce_weight * F.cross_entropy(logits_protected, target)
    terms["loss_bin"] = alpha * binary_loss(logits_protected, logits_original, target, tau, confidence)
    terms["loss_neg"] = beta * negatives_loss(logits_protected, logits_original, target, tau, negatives)
    if flatness:
        terms["loss_flat"] = flatness * flatness_loss(logits_protected, target)
    if template:
        terms["loss_template"] = template * template_loss(logits_protected, target, template_margin)
    return terms
