"""The attacker panel of the KD probe: logit transforms, paired gains with upper bounds, and the verdict as the
worst case over (family, attack kind), with settings chosen on the attacker's held-out slice. Pure functions on
fixed numbers: nothing here depends on the machine."""

import math

import pytest
import torch
import torch.nn.functional as F

from shieldkit.errors import InputError
from shieldkit.losses import non_target_logits, negatives_target
from shieldkit.verify.adaptive import fit_temperature, topk_logits, unmirror_logits
from shieldkit.verify.kd import KDProbeConfig, decide, paired_gain, student_configs, t95
from shieldkit.verify.run import inconclusive_reasons


def test_unmirror_undoes_a_mirrored_output():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(5, 10, generator=g) * 2
    y = z.argmax(1)
    p = F.softmax(z, 1)
    mirrored = p.clone()
    mask = torch.ones_like(p, dtype=torch.bool).scatter_(1, y.view(-1, 1), False)
    neg = non_target_logits(z, y)
    # mirror the negatives' probabilities (what RML's mirror target asks of a protected model), keep the top-1
    q = F.softmax(neg, 1) * (1 - p.gather(1, y.view(-1, 1)))
    values, order = q.sort(1)
    mirrored[mask] = torch.empty_like(q).scatter_(1, order, values.flip(1)).flatten()
    restored = F.softmax(unmirror_logits(mirrored.log()), 1)
    assert torch.allclose(restored, p, atol=1e-6)
    assert negatives_target is not None  # the defence's own construction is the one undone above


def test_topk_keeps_only_the_k_largest_at_every_temperature():
    z = torch.tensor([[3.0, 1.0, 2.0, -1.0, 0.5]])
    for tau in (1.0, 4.0, 20.0):
        p = F.softmax(topk_logits(z, 2) / tau, 1)
        assert p[0, [1, 3, 4]].sum().item() < 1e-30
        ref = F.softmax(z[0, [0, 2]] / tau, 0)
        assert torch.allclose(p[0, [0, 2]], ref)
    assert torch.equal(topk_logits(z, 5), z)


def test_fit_temperature_recovers_a_scaled_model():
    """Logits that are a calibrated model's logits times 5 are recalibrated with T close to 5."""
    g = torch.Generator().manual_seed(1)
    z = torch.randn(4000, 10, generator=g) * 1.5
    y = torch.multinomial(F.softmax(z, 1), 1, generator=g).squeeze(1)  # labels drawn from softmax(z): T* = 1
    assert fit_temperature(z * 5, y) == pytest.approx(5.0, rel=0.15)


def test_t_quantiles_and_the_upper_bound():
    # known values of the one-sided 95 % quantile (statistical tables to 3 decimals): df = 2, 9, 29; large df -> z
    assert t95(2) == pytest.approx(2.920, abs=5e-4) and t95(9) == pytest.approx(1.833, abs=5e-4)
    assert t95(29) == pytest.approx(1.699, abs=5e-4) and t95(10**6) == pytest.approx(1.645, abs=5e-4)
    assert t95(0) == math.inf
    g = paired_gain([60.0, 61.0, 62.0], [60.0, 60.0, 60.0])  # diffs 0, 1, 2
    assert g["mean"] == pytest.approx(1.0) and g["std"] == pytest.approx(1.0)
    assert g["upper95"] == pytest.approx(1.0 + t95(2) / math.sqrt(3))
    assert g["lower95"] == pytest.approx(1.0 - t95(2) / math.sqrt(3))  # what a reference must clear (power)
    assert paired_gain([61.0], [60.0])["upper95"] == math.inf  # one seed bounds nothing


def _student(runs, selection):
    return {"mean": sum(runs) / len(runs), "runs": runs, "selection": {"mean": selection}}


def test_decide_takes_the_worst_case_over_families_and_kinds_and_selects_on_held_out():
    cfg = KDProbeConfig(families=("cnn3-8", "cnn3-16"), taus=(1.0, 4.0), soft_only_taus=(), pseudo_label=True,
                        seeds=(0, 1, 2))
    students = {}
    for fam in cfg.families:
        students[f"{fam}/hard"] = _student([50.0, 50.0, 50.0], 50.0)
        students[f"{fam}/ls"] = _student([49.0, 49.0, 49.0], 49.0)  # lower on held-out: hard is the baseline
        students[f"{fam}/top1"] = _student([50.0, 50.2, 49.8], 50.0)
        students[f"{fam}/top1_kd"] = _student([50.0, 50.0, 50.0], 49.5)
    # cnn3-8: τ=4 looks best on the held-out slice (52) though τ=1 is better on test: the attacker takes τ=4
    students["cnn3-8/kd_tau1"] = _student([55.0, 55.0, 55.0], 51.0)
    students["cnn3-8/kd_tau4"] = _student([50.5, 50.5, 50.5], 52.0)
    # cnn3-16: KD at τ=1 leaks 2 points
    students["cnn3-16/kd_tau1"] = _student([52.0, 52.5, 51.5], 53.0)
    students["cnn3-16/kd_tau4"] = _student([49.0, 49.0, 49.0], 49.0)
    d = decide(students, cfg)
    assert d["attackers"]["cnn3-8/kd"]["student"] == "cnn3-8/kd_tau4"
    assert d["attackers"]["cnn3-8/kd"]["gain"]["mean"] == pytest.approx(0.5)
    assert d["deciding_attacker"] == "cnn3-16/kd_tau1" and d["kd_gain"] == pytest.approx(2.0)
    assert d["baseline"] == "cnn3-16/hard" and d["hard_label_accuracy"] == pytest.approx(50.0)
    assert d["kd_gain_upper"] == pytest.approx(2.0 + t95(2) * 0.5 / math.sqrt(3))
    # power: the attacker with the best lower bound (cnn3-8/kd_tau4 gains 0.5 every seed: lower bound 0.5, while
    # cnn3-16/kd_tau1's 2.0 ± 0.5 has 2.0 - 0.84 = 1.16)
    assert d["detected"]["attacker"] == "cnn3-16/kd_tau1"
    assert d["detected"]["lower95"] == pytest.approx(2.0 - t95(2) * 0.5 / math.sqrt(3))
    # the baseline is the better of hard and ls on the held-out slice, per family
    students["cnn3-16/ls"] = _student([51.0, 51.0, 51.0], 55.0)
    assert decide(students, cfg)["attackers"]["cnn3-16/kd"]["gain"]["mean"] == pytest.approx(1.0)


def test_decisions_baseline_measures_gains_beyond_the_oracles_own_argmax():
    """baseline="decisions": the student of the oracle's argmax (top1) joins hard/ls as a baseline candidate, so a
    gain is what the outputs teach beyond the decisions (hand-computed: KD 53 - top1 52 = +1, not 53 - 50 = +3)."""
    students = {"cnn3-16/hard": _student([50.0, 50.0, 50.0], 50.0), "cnn3-16/ls": _student([49.0, 49.0, 49.0], 49.0),
                "cnn3-16/top1": _student([52.0, 52.0, 52.0], 52.0), "cnn3-16/kd_tau1": _student([53.0, 53.5, 52.5], 53.0),
                "cnn3-16/top1_kd": _student([51.0, 51.0, 51.0], 51.0)}
    labels = KDProbeConfig(taus=(1.0,), soft_only_taus=(), seeds=(0, 1, 2), baseline="labels")
    decisions = KDProbeConfig(taus=(1.0,), soft_only_taus=(), seeds=(0, 1, 2))
    assert decisions.baseline == "decisions"  # the default criterion: gains beyond the model's own decisions
    assert decide(students, labels)["kd_gain"] == pytest.approx(3.0)
    d = decide(students, decisions)
    assert d["baseline"] == "cnn3-16/top1" and d["kd_gain"] == pytest.approx(1.0)
    assert "cnn3-16/top1" not in d["attackers"]  # under "decisions" the top-1 students are baselines, not attackers
    assert decide(students, labels)["attackers"]["cnn3-16/top1"]["gain"]["mean"] == pytest.approx(2.0)
    # KD on the decisions alone (top1_kd) is a baseline candidate too: when it does best on the held-out slice,
    # the gain is measured beyond it (53 - 52.5 = +0.5)
    students["cnn3-16/top1_kd"] = _student([52.5, 52.5, 52.5], 52.5)
    d = decide(students, decisions)
    assert d["baseline"] == "cnn3-16/top1_kd" and d["kd_gain"] == pytest.approx(0.5)
    assert decide(students, labels)["kd_gain"] == pytest.approx(3.0)  # the labels baseline does not move
    with pytest.raises(InputError, match="KD baseline"):
        KDProbeConfig(baseline="teacher")
    with pytest.raises(InputError, match="top1 student"):
        KDProbeConfig(baseline="decisions", pseudo_label=False)


def test_a_student_trained_exactly_as_a_baseline_is_not_an_attacker():
    """KD at τ = 1 on a decision head's answers trains on the very targets of top1_kd (a baseline candidate): the
    same student, so its 'gain' over the held-out-selected baseline (top1) is the baseline set's own selection
    noise, not knowledge. It leaves the attackers; a KD student with other targets stays."""
    cfg = KDProbeConfig(families=("cnn3-8",), taus=(1.0, 4.0), soft_only_taus=(), seeds=(0, 1, 2))
    same = ["kd:0.9:1.0|abc"] * 3

    def st(runs, sel, targets=None):
        return {**_student(runs, sel), **({"targets": targets} if targets else {})}

    students = {"cnn3-8/hard": st([45.0, 45.0, 45.0], 45.0), "cnn3-8/ls": st([45.0, 45.0, 45.0], 45.0),
                "cnn3-8/top1": st([46.0, 46.0, 46.0], 47.0, ["pseudo|x"] * 3),
                "cnn3-8/top1_kd": st([46.5, 46.0, 46.5], 46.0, same),
                "cnn3-8/kd_tau1": st([46.5, 46.0, 46.5], 46.0, same),
                "cnn3-8/kd_tau4": st([45.0, 45.5, 45.0], 45.5, ["kd:0.9:4.0|def"] * 3)}
    d = decide(students, cfg)
    assert d["identical_to_baseline"] == {"cnn3-8/kd_tau1": "cnn3-8/top1_kd"}
    assert d["attackers"]["cnn3-8/kd"]["student"] == "cnn3-8/kd_tau4" and d["kd_gain"] == pytest.approx(-5 / 6)  # vs top1 (best held-out): -1, -0.5, -1
    assert set(d["attackers"]) == {"cnn3-8/kd"}  # the baseline students (top1, top1_kd) are not attackers
    # the same method on other targets, or other targets on one seed, is a different student: it stays
    students["cnn3-8/kd_tau1"] = st([46.5, 46.0, 46.5], 48.0, same[:2] + ["kd:0.9:1.0|zzz"])
    d = decide(students, cfg)
    assert d["identical_to_baseline"] == {} and d["attackers"]["cnn3-8/kd"]["student"] == "cnn3-8/kd_tau1"


def test_panel_names_every_attack_kind():
    cfg = KDProbeConfig(taus=(0.5, 1.0), soft_only_taus=(4.0,), top_k=(3,), unmirror=True, recalibrate=True)
    kinds = {n: c["kind"] for n, c in student_configs(cfg).items()}
    assert kinds == {"hard": "baseline", "ls": "baseline", "kd_tau0.5": "kd", "kd_tau1": "kd", "soft_tau4": "soft",
                     "top1": "top1", "top1_kd": "top1", "top3_tau4": "topk", "unmirror_tau4": "unmirror", "recal_tau4": "recal"}


def test_a_reference_that_gains_nothing_makes_the_verdict_inconclusive():
    th = {"max_kd_gain": 0.5}

    def ref(lower):
        return {"detected": {"attacker": "cnn3-8/kd_tau4", "lower95": lower, "mean": lower + 1}}

    assert inconclusive_reasons({"kd_gain": 0.0, "reference": ref(2.0)}, th, [{}]) == []
    reasons = inconclusive_reasons({"kd_gain": 0.0, "reference": ref(0.3), "matched_reference": ref(-1.0)}, th, [{}])
    assert len(reasons) == 2 and "matched reference" in reasons[1]
    assert inconclusive_reasons({"kd_gain": 0.0, "reference": ref(0.3)}, {"max_kd_gain": None}, [{}]) == []


@pytest.mark.parametrize("bad", [dict(families=()), dict(families=("nonsense",)), dict(seeds=()),
                                 dict(selection_fraction=1.0), dict(taus=(0.0,)), dict(top_k=(0,)),
                                 dict(epochs=0)])
def test_bad_probe_settings_are_refused(bad):
    from shieldkit.errors import InputError

    with pytest.raises(InputError):
        KDProbeConfig(**bad)
