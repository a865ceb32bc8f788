"""One vocabulary across commands: the current names are what ``--help`` shows and what the library takes; the
former ones (shieldkit/former_names.py) still work for a release, on the command line, in config files, in
policy files and as library keywords, each with a note."""

import inspect
import json
import warnings

import pytest

import shieldkit
from cli_helpers import one_error_line, run
from shieldkit.cli import main as cli
from shieldkit.errors import InputError
from shieldkit.former_names import FORMER_KEYWORDS, FORMER_NAMES, current_arguments, current_keywords, option

LIBRARY = {"train": shieldkit.train, "protect": shieldkit.protect, "harden": shieldkit.harden,
           "export": shieldkit.export, "evaluate": shieldkit.evaluate, "verify": shieldkit.verify.verify}


@pytest.mark.parametrize("command", sorted(FORMER_NAMES))
def test_current_names_are_the_parameters_and_former_ones_are_hidden(command):
    params = set(inspect.signature(LIBRARY[command]).parameters)
    help_text = run(command, "--help").output
    for former, current in FORMER_NAMES[command].items():
        moves = FORMER_KEYWORDS.get(command, {})  # the library may group it (settings.attack.steps)
        keyword = moves.get(current, moves.get(former, current))
        assert keyword.split(".")[0] in params and former not in params, (command, former, keyword)
        assert option(current) in help_text, (command, current)
        assert f"{option(former)} " not in help_text and f"{option(former)}\n" not in help_text, (command, former)
    cmd_params = set(inspect.signature(getattr(cli, f"{command}_cmd")).parameters)
    assert not cmd_params & set(FORMER_NAMES[command]), command


def test_one_name_per_concept_in_every_help():
    """The words the vocabulary retired appear in no command's --help."""
    retired = ["--attack-steps", "--attack-step-size", "--pgd-steps", "--parity-n", "--eval-n", "--outputs",
               "--reverse", "--batch "]
    for command in ("train", "protect", "harden", "evaluate", "export", "verify", "inspect", "sign"):
        text = run(command, "--help").output
        assert not [w for w in retired if w in text], command
    assert "--probes" in run("verify", "--help").output and "--attacks" not in run("verify", "--help").output


def test_argument_rewriting():
    assert current_arguments("export", ["m.pt", "--batch=8", "--parity-n", "3", "--", "--batch"]) == \
        ["m.pt", "--batch-size=8", "--n", "3", "--", "--batch"]
    assert current_arguments("train", ["--batch-size", "8"]) == ["--batch-size", "8"]  # a current name is untouched
    assert current_arguments("sign", ["--key", "k"]) == ["--key", "k"]


def test_both_names_must_agree():
    assert current_keywords("export", {"parity_n": 8}, say=lambda *a: None) == {"n": 8}
    assert current_keywords("export", {"parity_n": 8, "n": 8}, say=lambda *a: None) == {"n": 8}
    with pytest.raises(InputError, match="n 8 and parity_n 9 disagree"):
        current_keywords("export", {"n": 8, "parity_n": 9}, say=lambda *a: None)


def test_former_cli_names_and_library_keywords_still_work(tmp_path, tiny_cnn):
    ckpt = tiny_cnn
    r = run("export", ckpt, "--data", "digits", "--out", tmp_path / "a", "--parity-n", "24", "--batch", "4",
            "--outputs", "confidence")
    assert r.exit_code == 0, r.output
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["export_settings"]["parity_n"] == 24 and manifest["export_settings"]["batch"] == 4
    assert manifest["output"]["head"] == "confidence"
    assert "note: --parity-n is now --n" in r.output and "note: --batch is now --batch-size" in r.output
    with pytest.warns(FutureWarning, match="parity_n= is now n="):
        shieldkit.export(ckpt, tmp_path / "b", data="digits", parity_n=16)
    assert json.loads((tmp_path / "b" / "manifest.json").read_text())["export_settings"]["parity_n"] == 16
    with pytest.warns(FutureWarning, match="n= is now parity.n="):  # a flat keyword moved into its group
        shieldkit.export(ckpt, tmp_path / "d", data="digits", n=16)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the current names warn about nothing
        shieldkit.export(ckpt, tmp_path / "c", data="digits", parity={"n": 16})


def test_an_old_sidecar_still_replays(tmp_path):
    """A run recorded before the rename (``attack_steps`` in its options) is read as the current names."""
    args = ["train", "--data", "digits", "--arch", "cnn3", "--model-kwargs", '{"width": 4}', "--epochs", "1",
            "--adversarial", "pgd-at", "--attack-steps", "1", "--attack-step-size", "0.01"]
    r = run(*args, "--out", tmp_path / "a.pt")
    assert r.exit_code == 0, r.output
    sidecar = json.loads((tmp_path / "a.json").read_text())
    options = sidecar["settings"]["options"]
    assert options["steps"] == 1 and options["step_size"] == 0.01 and "attack_steps" not in options
    assert sidecar["settings"]["method"]["attack"]["steps"] == 1
    options["attack_steps"], options["attack_step_size"] = options.pop("steps"), options.pop("step_size")
    (tmp_path / "old.json").write_text(json.dumps(sidecar))
    r = run("train", "--config", tmp_path / "old.json", "--epochs", "1", "--out", tmp_path / "b.pt")
    assert r.exit_code == 0, r.output
    assert "attack_steps (in" in r.output and "is now steps" in r.output
    replayed = json.loads((tmp_path / "b.json").read_text())["settings"]["options"]
    assert replayed["steps"] == 1 and replayed["step_size"] == 0.01


def test_a_policy_with_the_former_probes_key(tmp_path):
    from shieldkit.verify.policy import load_policy

    (tmp_path / "old.toml").write_text('attacks = ["kd"]\n[thresholds]\nmax_kd_gain = 0.5\n')
    (tmp_path / "new.toml").write_text('probes = ["kd"]\n[thresholds]\nmax_kd_gain = 0.5\n')
    assert load_policy(tmp_path / "old.toml").probes == load_policy(tmp_path / "new.toml").probes == ["kd"]
    (tmp_path / "both.toml").write_text('probes = ["kd"]\nattacks = ["datafree"]\n[thresholds]\n')
    with pytest.raises(InputError, match="disagree"):
        load_policy(tmp_path / "both.toml")


def test_a_former_name_with_a_bad_value_is_one_error_line(tmp_path):
    r = run("protect", "--data", "digits", tmp_path / "x.pt", "--reverse", "sideways", "--out", tmp_path / "p.pt")
    assert r.exit_code == 2 and "--negatives must be one of" in one_error_line(r)
