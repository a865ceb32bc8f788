"""Robust accuracy under ℓ∞ attacks (docs/verification.md, "Robustness").

``evaluate_robustness`` crafts adversarial examples for a fixed, stratified subset of the test split
and reports the top-1 accuracy of a *scorer* on them, per attack:

- ``clean``; ``fgsm``; ``pgd20`` (PGD-CE, 20 steps of 2/255, random start); ``cw`` (CW∞: PGD on the
  margin, 20 steps); ``autoattack`` (standard, torchattacks): white-box, crafted on ``model``;
- ``square``: score-based (Square Attack, ``square_queries`` per image), crafted through the scorer
  itself, so it runs against an ONNX Runtime session;
- ``transfer``: black-box transfer, PGD-20 crafted on a different ``transfer_source`` model.

The scorer defaults to ``model``; shieldkit.verify passes an ONNX Runtime session so the numbers are
those of the exported artefact. ``worst_case`` is the accuracy over images no attack broke.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Callable

import torch
from torch import nn

from .attacks import DEFAULT_EPS, DEFAULT_STEP_SIZE, CWInf, FGSM, PGD, Attack, AutoAttack, ScoreModule, Square
from .attacks.autoattack import VERSIONS as AUTOATTACK_VERSIONS
from .data import ImageArray, iterate_batches, stratified_split
from .progress import progress_bar
from .registry import Registry
from .errors import InputError
from .settings import check_settings, setting
from .utils import resolve_device

Scorer = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class RobustnessConfig:
    """How ``evaluate`` (and verify's robustness probe) measures robust accuracy: which attacks, on how many test
    images, at which ℓ∞ budget. Each field is declared here once; ``shieldkit evaluate`` derives its options
    from them (``pgd_steps`` is spelt ``--steps``)."""

    attacks: tuple[str, ...] | str = setting(("clean", "fgsm", "pgd20", "cw"), "comma-separated: clean, fgsm, "
                                             "pgd20, cw, autoattack, square, transfer")
    n: int = setting(1000, "test images (a fixed stratified subset)", minimum=1)
    eps: float = setting(DEFAULT_EPS, "l_inf budget of every attack, in [0, 1] pixel units (8/255 = 0.0314)",
                         minimum=0)
    step_size: float = setting(DEFAULT_STEP_SIZE, "PGD step size (also CW's)", above=0)
    pgd_steps: int = setting(20, "steps of the pgd20 (and transfer) attack", minimum=1)
    cw_steps: int = setting(20, "steps of the CW∞ attack", minimum=1)
    square_queries: int = setting(1000, "Square attack queries per image", minimum=1)
    autoattack_version: str = setting("standard", "AutoAttack version (standard: APGD-CE, APGD-T, FAB-T, Square)",
                                      choices=AUTOATTACK_VERSIONS)
    batch_size: int = setting(250, "images per attack batch", minimum=1)
    seed: int = setting(0, "seed of the stratified subset and of the randomised attacks")
    device: str = setting("auto", "auto | cpu | cuda[:N]")

    def __post_init__(self) -> None:
        object.__setattr__(self, "attacks", parse_attacks(self.attacks))
        check_settings(self)
        if self.eps > 1.0:
            raise InputError(f"--eps must be in [0, 1] (inputs are in [0, 1]), got {self.eps}")


# evaluation name -> build(cfg, num_classes) -> the attack (None: score the clean images); registration order is
# the order a report lists them in
EVALUATION_ATTACKS: Registry[Callable[["RobustnessConfig", int], Attack | None]] = Registry("robustness attack")
EVALUATION_ATTACKS.add("clean", lambda cfg, num_classes: None)
EVALUATION_ATTACKS.add("fgsm", lambda cfg, num_classes: FGSM(cfg.eps))
EVALUATION_ATTACKS.add("pgd20", lambda cfg, num_classes: PGD(cfg.eps, cfg.step_size, cfg.pgd_steps, loss="ce",
                                                             start="uniform"))
EVALUATION_ATTACKS.add("cw", lambda cfg, num_classes: CWInf(cfg.eps, cfg.step_size, cfg.cw_steps))
EVALUATION_ATTACKS.add("autoattack", lambda cfg, num_classes: AutoAttack(cfg.eps, num_classes,
                                                                         cfg.autoattack_version, cfg.seed))
EVALUATION_ATTACKS.add("square", lambda cfg, num_classes: Square(cfg.eps, cfg.square_queries, cfg.seed))
# PGD-20 crafted on another model (``transfer_source``), scored on this one
EVALUATION_ATTACKS.add("transfer", lambda cfg, num_classes: EVALUATION_ATTACKS.get("pgd20")(cfg, num_classes))
ROBUSTNESS_ATTACKS = tuple(EVALUATION_ATTACKS.names(registration_order=True))
GRADIENT_ATTACKS = ("fgsm", "pgd20", "cw", "autoattack")  # crafted with the scored model's own gradients


def parse_attacks(attacks: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    items = [a.strip() for a in attacks.split(",")] if isinstance(attacks, str) else [str(a) for a in attacks]
    items = [a for a in items if a]
    bad = [a for a in items if a not in ROBUSTNESS_ATTACKS]
    if bad or not items:
        raise InputError(f"unknown robustness attack(s) {bad or items}; valid: {', '.join(ROBUSTNESS_ATTACKS)}")
    return tuple(dict.fromkeys(items))


def build_attack(name: str, cfg: RobustnessConfig, num_classes: int) -> Attack | None:
    """The attack registered as ``name`` in :data:`EVALUATION_ATTACKS`, with ``cfg``'s budget (``clean`` → None)."""
    return EVALUATION_ATTACKS.get(name)(cfg, num_classes)


def evaluation_indices(labels: torch.Tensor, n: int, seed: int = 0) -> torch.Tensor:
    """A fixed subset of exactly ``n`` test images (all when n ≥ the split), stratified up to rounding."""
    if n >= len(labels):
        return torch.arange(len(labels))
    idx, rest = stratified_split(labels, n / len(labels), seed)
    gen = torch.Generator().manual_seed(seed)
    if len(idx) > n:
        idx = idx[torch.randperm(len(idx), generator=gen)[:n]]
    elif len(idx) < n:
        idx = torch.cat([idx, rest[torch.randperm(len(rest), generator=gen)[:n - len(idx)]]])
    return idx.sort().values


def evaluate_robustness(model: nn.Module | None, data: ImageArray, cfg: RobustnessConfig | None = None, *,
                        scorer: Scorer | None = None, transfer_source: nn.Module | None = None,
                        num_classes: int | None = None, progress: bool = False) -> dict:
    """Robust accuracy (%) per attack of ``cfg.attacks``; see the module docstring.

    ``model``: the differentiable model white-box attacks are crafted on (None: gradient attacks are
    refused). ``scorer``: what is scored (default ``model``). Returns a JSON-ready dict.
    """
    cfg = cfg or RobustnessConfig()
    dev = resolve_device(cfg.device)
    if model is None and any(a in GRADIENT_ATTACKS for a in cfg.attacks):
        wanted = [a for a in cfg.attacks if a in GRADIENT_ATTACKS]
        raise InputError(f"white-box attacks {wanted} need gradients, which an ONNX graph alone does not give (a "
                         f"bare .onnx, or an artefact with an output head, which ships no model.safetensors): "
                         f"evaluate the checkpoint, an artefact exported with --with-weights, or use "
                         f"--attacks clean,square,transfer")
    if "transfer" in cfg.attacks and transfer_source is None:
        raise InputError("the transfer attack needs a source model (--transfer-from)")
    if model is not None:
        model = model.to(dev).eval()
    if transfer_source is not None:
        transfer_source = transfer_source.to(dev).eval()
    num_classes = num_classes or getattr(model, "num_classes", None) or getattr(scorer, "num_classes", None)
    if scorer is None:
        if model is None:
            raise InputError("evaluate_robustness needs a model or a scorer")

        def scorer(x):
            with torch.no_grad():
                return model(x)

    indices = evaluation_indices(data.y, cfg.n, cfg.seed)
    accuracy, seconds, correct_all = {}, {}, None
    n_batches = (len(indices) + cfg.batch_size - 1) // cfg.batch_size
    with progress_bar(progress) as bar:
        task = bar.add_task("robustness", total=n_batches * len(cfg.attacks), stats="")
        for name in cfg.attacks:
            attack = build_attack(name, cfg, int(num_classes or 0))
            craft_on = ScoreModule(scorer).to(dev) if name == "square" else \
                transfer_source if name == "transfer" else model
            torch.manual_seed(cfg.seed)
            t0 = time.perf_counter()
            hits = []
            for x, y in iterate_batches(data, cfg.batch_size, device=dev, indices=indices):
                adv = x if attack is None else attack(craft_on, x, y)
                hits.append((scorer(adv).argmax(1) == y).cpu())
                bar.update(task, advance=1, stats=name)
            hit = torch.cat(hits)
            correct_all = hit if correct_all is None else correct_all & hit
            accuracy[name] = 100.0 * hit.float().mean().item()
            seconds[name] = time.perf_counter() - t0
    out = {"accuracy": accuracy, "seconds": seconds, "n": len(indices), "settings": asdict(cfg)}
    if len([a for a in cfg.attacks if a != "clean"]) > 1:
        out["accuracy"]["worst_case"] = 100.0 * correct_all.float().mean().item()
    return out


def pgd20_figures(model: nn.Module, ds, n: int, eps: float, step_size: float) -> dict:
    """A quick robustness read-out stored with a robust model: PGD-20 accuracy on ``n`` test images."""
    if n <= 0:
        return {}
    dev = next(model.parameters()).device
    res = evaluate_robustness(model, ds.test, RobustnessConfig(attacks=("pgd20",), n=n, eps=eps, step_size=step_size,
                                                               device=str(dev)))
    return {"pgd20_accuracy": res["accuracy"]["pgd20"], "pgd20_n": res["n"], "pgd20_eps": eps}
