"""CLI behaviour: exit codes and one clear line on bad input."""


import pytest
import torch

from cli_helpers import one_error_line, run
from shieldkit.models import create_model


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    r = run("train", "--arch", "cnn3", "--data", "digits", "--epochs", "1", "--out", d / "t.pt")
    assert r.exit_code == 0, r.output
    assert (d / "t.pt").is_file() and (d / "t.json").is_file()
    return d / "t.pt"


def test_protect_via_cli(trained, tmp_path):
    r = run("protect", trained, "--data", "digits", "--epochs", "1", "--beta", "0.5", "--out", tmp_path / "p.pt")
    assert r.exit_code == 0, r.output
    assert "protected" in r.output and (tmp_path / "p.pt").is_file() and (tmp_path / "p.json").is_file()


def test_missing_model_file(tmp_path):
    r = run("protect", "--data", "digits", tmp_path / "nope.pt", "--out", tmp_path / "p.pt")
    assert r.exit_code == 2 and "not found" in one_error_line(r)
    assert not (tmp_path / "p.pt").exists()


def test_wrong_arch(tmp_path):
    torch.save(create_model("resnet8", 10).net.state_dict(), tmp_path / "sd.pt")
    r = run("protect", "--data", "digits", tmp_path / "sd.pt", "--arch", "resnet20", "--num-classes", "10", "--out", tmp_path / "p.pt")
    assert r.exit_code == 2 and "does not match arch 'resnet20'" in one_error_line(r)
    r = run("train", "--data", "digits", "--arch", "resnet9000", "--out", tmp_path / "m.pt")
    assert r.exit_code == 2 and "unknown model 'resnet9000'" in one_error_line(r)


def test_wrong_number_of_classes_for_data(tmp_path):
    torch.save(create_model("cnn3", 5).state_dict(), tmp_path / "sd.pt")
    r = run("protect", "--data", "digits", tmp_path / "sd.pt", "--arch", "cnn3", "--num-classes", "5", "--out", tmp_path / "p.pt")
    assert r.exit_code == 2 and "10 classes" in one_error_line(r)


def test_corrupt_checkpoint(tmp_path):
    (tmp_path / "bad.pt").write_bytes(b"PK\x03\x04 truncated zip" * 4)
    r = run("protect", "--data", "digits", tmp_path / "bad.pt", "--out", tmp_path / "p.pt")
    assert r.exit_code == 2 and "not a readable model file" in one_error_line(r)


def test_missing_dataset(trained, tmp_path):
    r = run("protect", trained, "--data", "cifar10", "--data-dir", tmp_path / "empty", "--out", tmp_path / "p.pt")
    line = one_error_line(r)
    assert r.exit_code == 2 and "cifar10.npz" in line and "--download" in line


def test_untrusted_pickle_is_refused(tmp_path):
    torch.save(create_model("cnn3", 10), tmp_path / "module.pt")
    r = run("protect", "--data", "digits", tmp_path / "module.pt", "--out", tmp_path / "p.pt")
    assert r.exit_code == 2 and "--trust-pickle" in one_error_line(r)


def test_usage_errors_exit_2(tmp_path):
    r = run("protect", "--data", "digits", tmp_path / "x.pt", "--reverse", "sideways", "--out", tmp_path / "p.pt")
    assert r.exit_code == 2
    r = run("train", "--data", "digits", "--epochs", "0", "--out", tmp_path / "m.pt")
    assert r.exit_code == 2 and "epochs" in one_error_line(r)


def test_models_lists_names():
    r = run("models")
    assert r.exit_code == 0 and "resnet8" in r.output and "wrn-34-10" in r.output


def test_demo_smoke_runs_end_to_end(tmp_path):
    """The README's main command, at 1 epoch: train -> protect -> export -> verify, a table and demo.json."""
    import json

    r = run("demo", "--smoke", "--out-dir", tmp_path / "demo")
    assert r.exit_code == 0, r.output
    assert "original" in r.output and "protected" in r.output
    result = json.loads((tmp_path / "demo" / "demo.json").read_text())
    assert set(result["rows"]) == {"original", "protected"}
    for report in result["rows"].values():
        assert report["verdict"] in ("PASS", "FAIL", "INCONCLUSIVE")
        assert report["artefact"]["kind"] == "onnxruntime" and report["reference"] is not None
        assert set(report["seats"]) == {"file", "answer"}
    # the protected artefact has a head to cut; the original answers with its logits
    assert result["rows"]["protected"]["seats"]["file"]["same_as"] is None
    assert result["rows"]["original"]["seats"]["file"]["same_as"] == "answer"
    # --render prints the table the README quotes, from the saved JSON (no run)
    r = run("demo", "--render", tmp_path / "demo" / "demo.json")
    assert r.exit_code == 0 and r.output.count("| original |") == 2 and r.output.count("| protected |") == 2


def test_demo_out_dir_that_is_a_file_is_refused_before_work(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    r = run("demo", "--smoke", "--out-dir", f)
    assert r.exit_code == 2 and "not a directory" in one_error_line(r)


@pytest.mark.parametrize("args,words", [(["protect", "--bogus"], "No such option: --bogus"),
                                        (["train", "--arch", "resnet8", "--out", "x.pt"], "Missing option '--data'"),
                                        (["protect", "m.pt", "--out", "p.pt"], "Missing option '--data'"),
                                        (["harden", "--teacher", "m.pt", "--out", "h.pt"], "Missing option '--data'"),
                                        (["evaluate", "m.pt"], "Missing option '--data'"),
                                        (["export", "m.pt"], "Missing option '--out'"),
                                        (["verify", "x", "--data", "digits", "--seats", "server"], "--seats")])
def test_usage_errors_are_one_line_with_exit_2(args, words):
    """Through the real entry point (not CliRunner): click's usage errors get the one-line treatment too."""
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "shieldkit.cli", *args], capture_output=True, text=True, timeout=120)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("error:") and words in lines[0], r.stderr
    assert "Traceback" not in r.stderr and "╭" not in r.stderr + r.stdout


def test_short_help_flag():
    import subprocess
    import sys

    for args in (["-h"], ["verify", "-h"]):
        r = subprocess.run([sys.executable, "-m", "shieldkit.cli", *args], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 and "Usage: shieldkit" in r.stdout, r.stderr


def test_debug_shows_the_traceback_behind_the_one_line(tmp_path):
    """SHIELDKIT_DEBUG=1 adds the traceback before the same one-line error and exit code."""
    import os
    import subprocess
    import sys

    args = [sys.executable, "-m", "shieldkit.cli", "protect", tmp_path / "nope.pt", "--data", "digits", "--out",
            tmp_path / "p.pt"]
    plain = subprocess.run(args, capture_output=True, text=True, timeout=120)
    debug = subprocess.run(args, capture_output=True, text=True, timeout=120, env={**os.environ, "SHIELDKIT_DEBUG": "1"})
    assert plain.returncode == debug.returncode == 2 and "Traceback" not in plain.stderr
    assert "Traceback" in debug.stderr and debug.stderr.strip().splitlines()[-1] == plain.stderr.strip().splitlines()[-1]


def test_quiet_hides_progress_and_verbose_shows_the_traceback(tmp_path):
    args = ["train", "--data", "digits", "--arch", "cnn3", "--model-kwargs", '{"width": 4}', "--epochs", "1"]
    loud = run(*args, "--out", tmp_path / "a.pt")
    quiet = run("-q", *args, "--out", tmp_path / "b.pt")
    assert loud.exit_code == 0 and quiet.exit_code == 0, (loud.output, quiet.output)
    assert "train cnn3" in loud.output and "train cnn3" not in quiet.output  # the progress bar's title
    assert "test accuracy" in quiet.output  # the result still prints
    bad = ["train", "--data", "digits", "--epochs", "0", "--out", tmp_path / "c.pt"]
    r = run("-v", *bad)
    assert r.exit_code == 2 and "Traceback" in r.output and "error:" in r.output
    r = run(*bad)
    assert r.exit_code == 2 and "Traceback" not in r.output
