"""``evaluate``: robust accuracy of a checkpoint, a module, or the exported artefact itself.

For an artefact directory the scorer is ONNX Runtime on ``model.onnx`` (or the int8 graph) and the
white-box attacks are crafted on the artefact's own ``model.safetensors`` (the same weights, bit for
bit, whose ONNX parity the export checked), so the figures are those of what ships. A bare
``.onnx`` gives only score-based (``square``) and ``transfer`` attacks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from torch import nn

from shieldkit.runs import as_dataset
from shieldkit.checkpoint import load_model
from shieldkit.data import Dataset
from shieldkit.data.preprocess import Preprocess
from shieldkit.errors import InputError
from shieldkit.former_names import accepts_former_names
from shieldkit.outputs import check_output_file
from shieldkit.utils import write_json
from shieldkit.robustness import RobustnessConfig, evaluate_robustness
from shieldkit.run_settings import DataSettings
from shieldkit.settings import as_settings
from shieldkit.exporters.settings import RuntimeSettings

from .oracle import OnnxOracle, TorchOracle, as_oracle, check_oracle_data, describe_oracle, oracle_preprocess

ROBUSTNESS_SCHEMA_VERSION = 1


@dataclass
class RobustnessResult:
    report: dict[str, Any]

    def __repr__(self) -> str:
        acc = ", ".join(f"{k} {v:.2f}" for k, v in self.report.get("accuracy", {}).items())
        return f"RobustnessResult(n={self.report.get('n')}: {acc})"

    @property
    def accuracy(self) -> dict[str, float]:
        return self.report["accuracy"]


def robustness_target(model, *, providers=None, variant: str = "fp32", trust_pickle: bool = False,
                      public_key=None, certificate_chain=()):
    """``(differentiable model or None, oracle that is scored)`` for any model reference; with ``public_key`` (or
    ``certificate_chain``) an artefact's signature must verify first."""
    oracle = as_oracle(model, providers=providers, variant=variant, trust_pickle=trust_pickle,
                       public_key=public_key, certificate_chain=certificate_chain or ())
    if isinstance(oracle, TorchOracle):
        return oracle.module, oracle
    assert isinstance(oracle, OnnxOracle)
    twin = oracle.path / "model.safetensors" if oracle.path.is_dir() else None
    if twin is not None and twin.is_file():
        module, _ = load_model(twin)  # sha256 already checked against the manifest by the oracle
        return module, oracle
    return None, oracle


def evaluate_robustness_of(model, ds: Dataset, cfg: RobustnessConfig, *, transfer_from=None, providers=None,
                           variant: str = "fp32", trust_pickle: bool = False, progress: bool = True,
                           target=None) -> dict:
    """The robustness figures of any model reference on ``ds`` (see :func:`evaluate`), as a report dict;
    ``target``: its :func:`robustness_target` when the caller already has it (the model is then not loaded again)."""
    grad_model, oracle = target or robustness_target(model, providers=providers, variant=variant,
                                                     trust_pickle=trust_pickle)
    check_oracle_data(oracle, ds, "the model")
    source = None
    if transfer_from is not None:
        source_oracle = as_oracle(transfer_from, trust_pickle=trust_pickle)
        if not isinstance(source_oracle, TorchOracle):
            raise InputError("--transfer-from must be a checkpoint (adversarial examples are crafted with its gradients)")
        source = source_oracle.module
    if grad_model is not None:
        for p in grad_model.parameters():
            p.requires_grad_(False)
    figures = evaluate_robustness(grad_model, ds.test, cfg, scorer=oracle, transfer_source=source,
                                  num_classes=ds.num_classes, progress=progress)
    target = describe_oracle(oracle, model)
    target["crafted_on"] = ("the artefact's model.safetensors (parity-checked twin)"
                            if isinstance(oracle, OnnxOracle) and grad_model is not None else
                            "the scored model itself" if grad_model is not None else "score-based / transfer only")
    return {"target": target, "queries": oracle.queries, **figures}


@accepts_former_names("evaluate")
def evaluate(model: str | Path | nn.Module, data: str | Dataset, *,
             settings: RobustnessConfig | Mapping[str, Any] | None = None,
             transfer_from: str | Path | nn.Module | None = None,
             runtime: RuntimeSettings | Mapping[str, Any] | None = None,
             inputs: DataSettings | Mapping[str, Any] | None = None, report: str | Path | None = None,
             progress: bool = True) -> RobustnessResult:
    """Clean and robust accuracy (%) of ``model`` on a fixed stratified subset of ``settings.n`` test images,
    under the attacks and budget of ``settings`` (:class:`~shieldkit.robustness.RobustnessConfig`); ``runtime``:
    the ONNX Runtime graph and providers of an artefact; ``report``: also write the JSON report there (the path
    is checked before any attack runs)."""
    check_output_file(report, "--report")
    cfg = settings if isinstance(settings, RobustnessConfig) else RobustnessConfig(**dict(settings or {}))
    runtime = as_settings(RuntimeSettings, runtime, "runtime=")
    inputs = as_settings(DataSettings, inputs, "inputs=")
    providers, variant, trust_pickle = runtime.providers, runtime.variant, runtime.trust_pickle
    given = Preprocess(inputs.image_size, inputs.resize, inputs.center_crop)
    target = robustness_target(model, providers=providers, variant=variant, trust_pickle=trust_pickle,
                               public_key=runtime.public_key, certificate_chain=runtime.certificate_chain)
    ds = as_dataset(data, inputs.data_dir, inputs.download,
                    preprocess=given if given.active else oracle_preprocess(target[1]))
    figures = evaluate_robustness_of(model, ds, cfg, transfer_from=transfer_from, providers=providers,
                                     variant=variant, trust_pickle=trust_pickle, progress=progress, target=target)
    out = {"schema_version": ROBUSTNESS_SCHEMA_VERSION, "created": datetime.now(timezone.utc).isoformat(),
              "dataset": ds.describe(), "transfer_from": None if transfer_from is None else str(transfer_from),
              "threat_model": "linf", **figures}
    if report is not None:
        write_json(out, report)
    return RobustnessResult(out)




__all__ = ["RobustnessResult", "evaluate", "evaluate_robustness_of", "robustness_target"]
