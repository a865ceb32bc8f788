"""``verify``: attack the artefact that ships and compare the figures with a release policy.

    verify(artefact, data, reference=None, policy=None, probe={"budget": "quick"}) -> VerifyResult

The artefact is an oracle (:mod:`.oracle`): an exported directory or ``.onnx`` file is attacked
through ONNX Runtime (black-box), a checkpoint or module through torch (white-box). Attacks:
the data-driven KD probe (:mod:`.kd`, a panel of attackers whose worst case decides) and data-free
KD (:mod:`.datafree`). The attacker's data is a stratified split of the training set; every student
is scored on the test split, which no attack ever sees.

Seats (:mod:`.seats`): the KD probe runs at the ``answer`` seat (the graph as shipped) and at the ``file`` seat
(the graph cut below any output head, what anyone holding the files reaches); the policy's ``seats`` (default
both) are gated, each with its own ``max_kd_gain`` check, and the report shows both.

Verdicts: FAIL (exit 1) when a threshold fails; INCONCLUSIVE (exit 3) when every threshold holds but the run
cannot stand behind a PASS: no check applied at all, or a KD margin is checked and the probe's power is not
shown in this run (no ``reference``, or the reference's, or the ``matched_reference``'s, best one-sided 95 %
*lower* bound does not clear the margin: a model that merely lost accuracy, or a probe too weak to see KD, must
not PASS); PASS otherwise.
"""

from __future__ import annotations

import functools

import time
import warnings
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from shieldkit.data import Dataset
from shieldkit.data.preprocess import Preprocess
from shieldkit.errors import InputError
from shieldkit.exporters.records import Manifest
from shieldkit.exporters.settings import RuntimeSettings
from shieldkit.former_names import accepts_former_names
from shieldkit.outputs import check_output_file
from shieldkit.precision import check_precision
from shieldkit.run_settings import DataSettings
from shieldkit.runs import as_dataset
from shieldkit.settings import as_settings
from shieldkit.utils import write_json
from shieldkit.version import __version__

from .probes import PROBES, ProbeContext, probe_order
from .budgets import budget_configs, with_seeds
from .kd import StudentMemo
from .oracle import Oracle, as_oracle, check_oracle_data, describe_oracle, oracle_accuracy, oracle_preprocess
from .policy import SEAT_THRESHOLDS, Policy, apply_sections, as_policy, robustness_config, with_overrides
from .report import REPORT_SCHEMA_VERSION, evaluate_checks
from .results import Verdict, VerificationReport
from .seats import ANSWER_ONLY_ASSUMPTION, DEFAULT_SEATS, check_seats, model_seats
from .settings import ProbeSettings, ReportFiles
from .summary import require_matplotlib, write_outputs


VERDICTS = ("PASS", "FAIL", "INCONCLUSIVE")


@dataclass
class VerifyResult:
    """``report``: the JSON document (schema :data:`~.report.REPORT_SCHEMA`); ``typed_report``: the same report as
    typed records (:class:`~.results.VerificationReport`), which every output reads."""

    report: dict[str, Any]

    def __repr__(self) -> str:
        f = self.report.get("figures", {})
        return (f"VerifyResult({self.report.get('verdict')}: accuracy {f.get('accuracy', float('nan')):.2f}, "
                f"kd_gain_upper {f.get('kd_gain_upper')}, deciding attacker {f.get('kd_attacker')})")

    @functools.cached_property
    def typed_report(self) -> VerificationReport:
        return VerificationReport.from_dict(self.report)

    @property
    def passed(self) -> bool:
        return self.verdict == Verdict.PASS

    @property
    def verdict(self) -> Verdict:
        return Verdict(self.report["verdict"])


def power(figures: dict, thresholds: dict) -> dict | None:
    """The probe's power in this run: per reference, the attacker whose gain has the largest one-sided 95 % lower
    bound, and whether that bound clears the KD margin. None when no KD margin is checked."""
    margin = thresholds.get("max_kd_gain")
    if margin is None or figures.get("kd_gain") is None:
        return None
    out = {"margin": margin, "references": {}}
    for key in ("reference", "matched_reference"):
        ref = figures.get(key) or {}
        if "detected" in ref:
            d = ref["detected"]
            out["references"][key] = {"attacker": d["attacker"], "gain": d["mean"], "lower95": d["lower95"],
                                      "seat": ref.get("seat"), "shown": bool(d["lower95"] > margin)}
    out["shown"] = bool(out["references"]) and all(r["shown"] for r in out["references"].values())
    return out


NO_CHECK = "no check applied in this run (every threshold set was skipped): nothing was verified"


def power_reasons(figures: dict, thresholds: dict) -> list[str]:
    """Why the KD margin's verdict cannot PASS yet: no reference shows, in this run, a gain whose lower bound
    clears the margin (the probe is not shown to detect what it looks for). Empty when no KD margin is checked."""
    p = power(figures, thresholds)
    if p is None:
        return []
    out = []
    if not p["references"]:
        out.append("the probe's power is unproven: no --reference (the unprotected model) was given, so nothing in "
                   "this run shows that the probe detects dark knowledge where there is some")
    for key, r in p["references"].items():
        if not r["shown"]:
            out.append(f"the {key.replace('_', ' ')}'s best gain {r['gain']:+.2f} ({r['attacker']}) has a 95% lower "
                       f"bound {r['lower95']:+.2f} that does not clear the margin {p['margin']:g}: this probe is not "
                       f"shown to detect distillation")
    return out


def inconclusive_reasons(figures: dict, thresholds: dict, checks: list[dict]) -> list[str]:
    """Why a run whose checks all hold still cannot PASS: no check applied (an empty set of checks never PASSes),
    or :func:`power_reasons`."""
    return ([] if checks else [NO_CHECK]) + power_reasons(figures, thresholds)


def seat_reports(ctx, seat_figures: dict[str, dict], thresholds: dict, reasons: list[str]) -> dict:
    """Per seat: who the attacker is, how it reaches the logits, its figures, its checks (:data:`SEAT_THRESHOLDS`)
    and its own verdict, by the rules of the whole (``reasons``: why the KD margin cannot PASS yet); ``gated``:
    whether the policy's verdict includes it. A run without the KD probe has no seat figures."""
    out = {}
    for name in DEFAULT_SEATS:
        seat = ctx.seats[name]
        figures = seat_figures.get(name)
        entry = {**{k: v for k, v in seat.describe().items() if k != "seat"}, "gated": name in ctx.gated,
                 "figures": figures, "checks": [], "verdict": None}
        if figures is not None:
            entry["checks"] = [{**c, "seat": name} for c in evaluate_checks(
                figures, {k: thresholds.get(k) for k in SEAT_THRESHOLDS})]
            failed = not all(c["passed"] for c in entry["checks"])
            entry["verdict"] = "FAIL" if failed else ("INCONCLUSIVE" if reasons or not entry["checks"] else "PASS")
        out[name] = entry
    return out


RECORDED_FIGURES = ("original_test_accuracy", "test_accuracy")  # protect's pre-protection figure first


def recorded_accuracy(oracle: Oracle, ds: Dataset) -> tuple[float | None, str]:
    """The accuracy recorded with the model (``(value, where from)``) when it was measured on the data this run
    uses (same dataset name, test-split size and input shape); ``(None, why not)`` otherwise."""
    manifest = getattr(oracle, "manifest", None)
    if manifest:
        provenance = manifest.get("provenance") or {}
        figures, settings, where = provenance.get("figures") or {}, provenance.get("settings") or {}, "the manifest"
    elif getattr(oracle, "info", None) is not None:
        figures, settings, where = oracle.info.figures or {}, oracle.info.settings or {}, "the checkpoint"
    else:
        return None, "no record travels with this model"
    key = next((k for k in RECORDED_FIGURES if isinstance(figures.get(k), (int, float))), None)
    if key is None:
        return None, f"{where} records no test accuracy"
    data = settings.get("data") or {}
    seen = (data.get("name"), data.get("test"), list(data.get("input_shape") or []))
    now = (ds.name, len(ds.test), list(ds.input_shape))
    if seen != now:
        return None, (f"{where} records {key} on {seen[0]} ({seen[1]} test images, {seen[2]}), this run uses "
                      f"{now[0]} ({now[1]}, {now[2]})")
    return float(figures[key]), f"{key} from {where}"


def _parity_agreement(oracle: Oracle) -> float | None:
    manifest = getattr(oracle, "manifest", None)
    if not manifest:
        return None
    return Manifest.from_dict(manifest).parity.agreement(getattr(oracle, "variant", "fp32"))


def _former_thresholds(fn):
    """``thresholds=`` (a former keyword of :func:`verify`) becomes the policy's overrides, with a FutureWarning."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if "thresholds" in kwargs:
            overrides = kwargs.pop("thresholds")
            warnings.warn("thresholds= is now part of policy= (a mapping of thresholds, or "
                          "with_overrides(load_policy(path), ...)); the former name will be removed in a later "
                          "release", FutureWarning, stacklevel=2)
            kwargs["policy"] = with_overrides(as_policy(kwargs.get("policy")), **(overrides or {}))
        return fn(*args, **kwargs)

    return wrapper


@_former_thresholds
@accepts_former_names("verify")
def verify(artefact, data: str | Dataset, *, reference=None, matched_reference=None,
           policy: str | Path | Policy | Mapping[str, float | None] | None = None,
           probe: ProbeSettings | Mapping[str, Any] | None = None,
           runtime: RuntimeSettings | Mapping[str, Any] | None = None,
           inputs: DataSettings | Mapping[str, Any] | None = None,
           outputs: ReportFiles | Mapping[str, Any] | None = None, log=None) -> VerifyResult:
    """Attack ``artefact`` (and ``reference`` / ``matched_reference``, when given) and return the report with
    its verdict (PASS, FAIL or INCONCLUSIVE).

    ``probe`` (:class:`~shieldkit.verify.settings.ProbeSettings`): ``budget`` picks the attack settings (smoke |
    quick | standard | full, default quick); ``seeds`` and ``epochs`` (of every KD student) override the budget's;
    ``kd_config`` / ``datafree_config`` replace them outright; ``seats``: the seats whose KD gain is gated (default
    the policy's, else ``file`` and ``answer``; both are always measured and reported); ``memo``: a
    :class:`~shieldkit.verify.kd.StudentMemo` shared with other runs on the same data and probe settings, so that
    a student they share (the label-only ones, a common reference's) is trained once; ``precision``: the KD
    students' training arithmetic (``auto`` keeps the budget's or the policy's); ``progress``: a live progress
    bar. ``policy``: a :class:`Policy`, a TOML file, or a mapping of thresholds over the default policy's
    (:func:`as_policy`). ``outputs`` (:class:`~shieldkit.verify.settings.ReportFiles`): the JSON report, Markdown summary
    (also appended to ``$GITHUB_STEP_SUMMARY``), JUnit XML, plot and MODEL_CARD.md to write (each path checked
    before any attack runs). ``runtime`` (:class:`~shieldkit.exporters.settings.RuntimeSettings`): providers, the
    graph variant, and the public key (or certificate chain) the artefact's signature must verify with before any
    attack runs (the report records the key's sha256). Each group is an object or a mapping of its fields.
    """
    say = log or (lambda msg: None)
    probe, runtime = as_settings(ProbeSettings, probe, "probe="), as_settings(RuntimeSettings, runtime, "runtime=")
    inputs, files = as_settings(DataSettings, inputs, "inputs="), as_settings(ReportFiles, outputs, "outputs=")
    budget, probes, seeds, epochs, seats = probe.budget, probe.probes, probe.seeds, probe.epochs, probe.seats
    query_budget, precision, memo = probe.query_budget, probe.precision, probe.memo
    kd_config, datafree_config = probe.kd_config, probe.datafree_config
    providers, variant, trust_pickle = runtime.providers, runtime.variant, runtime.trust_pickle
    public_key, certificate_chain = runtime.public_key, runtime.certificate_chain or ()
    data_dir, image_size, resize, center_crop = inputs.data_dir, inputs.image_size, inputs.resize, inputs.center_crop
    report, summary, junit, plot, model_card = files.report, files.summary, files.junit, files.plot, files.model_card
    report_path, report = report, None
    check_output_file(report_path, "--report")
    for path, option in ((summary, "--summary"), (junit, "--junit"), (plot, "--plot"), (model_card, "--model-card")):
        check_output_file(path, option)
    if plot is not None:
        require_matplotlib()
    Preprocess(image_size, resize, center_crop)  # bad sizes are refused before any work
    t0 = time.perf_counter()
    pol = as_policy(policy)
    gated = check_seats(seats if seats is not None else pol.seats, "--seats")
    budget = budget or pol.budget or "quick"
    kd_cfg, df_cfg = apply_sections(pol, *budget_configs(budget))
    kd_cfg, df_cfg = kd_config or kd_cfg, datafree_config or df_cfg
    kd_cfg, df_cfg = with_seeds(kd_cfg, df_cfg, list(seeds) if seeds else pol.seeds)
    if epochs is not None:
        kd_cfg = replace(kd_cfg, epochs=int(epochs))
    if check_precision(precision) != "auto":
        kd_cfg = replace(kd_cfg, precision=precision)
    default = ["kd"] + (["datafree"] if pol.thresholds.needs_datafree() else []) + \
        (["robustness"] if pol.thresholds.robustness_attacks() else [])
    attacks = probe_order(list(probes or pol.probes or default))
    if pol.thresholds.needs_datafree() and "datafree" not in attacks:
        raise InputError("a data-free threshold is set but the datafree probe is not among --probes")
    if pol.thresholds.robustness_attacks() and "robustness" not in attacks:
        raise InputError("a robustness threshold is set but the robustness probe is not among --probes")
    rob_cfg = robustness_config(pol) if "robustness" in attacks else None
    if pol.thresholds.max_kd_gain is not None and "kd" not in attacks:
        raise InputError("max_kd_gain is set but the kd probe is not among --probes")
    if not any(v is not None for v in pol.thresholds.to_dict().values()):
        raise InputError("no threshold is set, so nothing would be checked; set at least one (e.g. --max-kd-gain)")
    if pol.thresholds.needs_reference() and reference is None:
        raise InputError(f"threshold(s) {', '.join(pol.thresholds.needs_reference())} compare with a reference model: "
                         f"pass --reference")

    oracle = as_oracle(artefact, providers=providers, budget=query_budget, variant=variant, trust_pickle=trust_pickle,
                       public_key=public_key, certificate_chain=certificate_chain)
    given = Preprocess(image_size, resize, center_crop)
    ds = as_dataset(data, data_dir, preprocess=given if given.active else oracle_preprocess(oracle))
    check_oracle_data(oracle, ds, "the artefact")
    ref = None
    if reference is not None:
        ref = as_oracle(reference, providers=providers, trust_pickle=trust_pickle)
        check_oracle_data(ref, ds, "the reference")
    matched = None
    if matched_reference is not None:
        matched = as_oracle(matched_reference, providers=providers, trust_pickle=trust_pickle)
        check_oracle_data(matched, ds, "the matched reference")

    figures: dict[str, Any] = {"accuracy": oracle_accuracy(oracle, ds.test)}
    ref_figures: dict[str, Any] = {}
    say(f"artefact test accuracy {figures['accuracy']:.2f}%")
    if ref is not None:
        ref_figures["accuracy"] = oracle_accuracy(ref, ds.test)
        figures["accuracy_drop"] = ref_figures["accuracy"] - figures["accuracy"]
    figures["parity_agreement"] = _parity_agreement(oracle)
    recorded, recorded_source = recorded_accuracy(oracle, ds)
    figures["recorded_accuracy_source"] = recorded_source
    if recorded is not None:
        figures["recorded_accuracy"] = recorded
        figures["recorded_accuracy_drop"] = recorded - figures["accuracy"]
        say(f"recorded accuracy {recorded:.2f}% ({recorded_source}): drop {figures['recorded_accuracy_drop']:+.2f}")

    ctx = ProbeContext(artefact=artefact, oracle=oracle, data=ds, kd=kd_cfg, datafree=df_cfg, robustness=rob_cfg,
                       reference=ref, matched_reference=matched, query_budget=query_budget, providers=providers,
                       variant=variant, trust_pickle=trust_pickle, progress=probe.progress, say=say,
                       seats=model_seats(oracle, providers), gated=gated,
                       memo=memo if memo is not None else StudentMemo())
    say("seats: " + "; ".join(f"{n} = {ctx.seats[n].reached}" for n in DEFAULT_SEATS)
        + f" (gated: {', '.join(gated)})")
    outcomes = {name: PROBES.get(name)(ctx) for name in attacks}
    seat_figures: dict[str, dict] = {}
    for outcome in outcomes.values():
        figures.update(outcome.figures)
        ref_figures.update(outcome.reference_figures)
        seat_figures.update(outcome.seat_figures)
    report_attacks = {name: outcome.entry for name, outcome in outcomes.items()}
    if ref_figures:
        figures["reference"] = ref_figures

    thresholds = pol.thresholds.to_dict()
    skipped = {}
    if thresholds.get("max_recorded_accuracy_drop") is not None and recorded is None:
        skipped["max_recorded_accuracy_drop"] = recorded_source  # nothing to compare with: said, not failed
        thresholds["max_recorded_accuracy_drop"] = None
    seat_entries = seat_reports(ctx, seat_figures, thresholds, power_reasons(figures, thresholds))
    checks = evaluate_checks(figures, {k: v for k, v in thresholds.items() if k not in SEAT_THRESHOLDS})
    checks += [c for name in gated for c in seat_entries[name]["checks"]]
    reasons = inconclusive_reasons(figures, thresholds, checks)
    verdict = "FAIL" if not all(c["passed"] for c in checks) else ("INCONCLUSIVE" if reasons else "PASS")
    report = {
        "schema": "shieldkit-verify-report",
        "schema_version": REPORT_SCHEMA_VERSION,
        "shieldkit_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "artefact": describe_oracle(oracle, artefact),
        "reference": describe_oracle(ref, reference) if ref is not None else None,
        "matched_reference": describe_oracle(matched, matched_reference) if matched is not None else None,
        "dataset": ds.describe(),
        "budget": budget if not (kd_config or datafree_config) else f"{budget} (custom settings)",
        "policy": pol.source,
        "attacks": report_attacks,
        "figures": figures,
        "thresholds": thresholds,
        "checks": checks,
        "skipped_checks": skipped,
        "seats": seat_entries,
        "gated_seats": list(gated),
        "assumed": ANSWER_ONLY_ASSUMPTION if gated == ("answer",) else None,
        "power": power(figures, thresholds),
        "verdict": verdict,
        "inconclusive": reasons,
        "seconds": time.perf_counter() - t0,
    }
    if report_path is not None:
        write_json(report, report_path)
    write_outputs(report, summary=summary, junit=junit, plot=plot, model_card_path=model_card,
                  manifest=getattr(oracle, "manifest", None))
    return VerifyResult(report)
