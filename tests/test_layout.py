"""The shape of the package: one facade with every user-facing call, the CLI and the library taking the same
options, a run's sidecar replayed as --config, methods chosen through registries (a new one appears in --help by
itself), and no hidden imports of the project's own modules."""

import ast
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import shieldkit
from cli_helpers import one_error_line, run
from shieldkit.cli import main as cli

ROOT = Path(__file__).resolve().parents[1]


def test_facade_offers_every_user_facing_call():
    for name in ("train", "protect", "harden", "export", "load_runtime", "verify", "evaluate", "load_model",
                 "load_dataset", "create_model"):
        assert name in shieldkit.__all__ and callable(getattr(shieldkit, name)), name
    from shieldkit.exporters import export
    from shieldkit.verify import verify

    assert shieldkit.export is export
    # the subpackage shieldkit.verify is itself the call (a subpackage is an attribute of its parent)
    assert shieldkit.verify.verify is verify and callable(shieldkit.verify)


# library-only parameters: Python objects or callbacks no command line can carry
# (``memo``: students shared
# between runs of one Python process)
LIBRARY_ONLY = {"progress", "log", "kd_config", "datafree_config", "memo"}


def _library_options(function) -> set[str]:
    """A library call's options as the command line spells them: each settings group (``run=``, ``inputs=``,
    ``source=``, ``settings=``) by its fields, a nested attack by its own."""
    import dataclasses

    from shieldkit.attacks import AttackSettings
    from shieldkit.exporters.settings import GraphSettings, ParitySettings, RuntimeSettings
    from shieldkit.verify.settings import ProbeSettings, ReportFiles
    from shieldkit.methods import HardenSettings, NastySettings, RMLSettings, TrainSettings
    from shieldkit.run_settings import NOT_RECORDED, DataSettings, ModelSource, RunSettings

    def names(cls):
        return {f.name for f in dataclasses.fields(cls)} - {"attack"}

    groups = {"run": names(RunSettings) - set(NOT_RECORDED) | {"resume"}, "inputs": names(DataSettings),
              "source": names(ModelSource), "graph": names(GraphSettings), "parity": names(ParitySettings),
              "runtime": names(RuntimeSettings), "probe": names(ProbeSettings), "outputs": names(ReportFiles)}
    settings = {"train": names(TrainSettings) | names(AttackSettings),
                "harden": names(HardenSettings) | names(AttackSettings),
                "protect": names(RMLSettings) | names(NastySettings) | names(AttackSettings) | {"recipe"},
                # RobustnessConfig's fields, pgd_steps spelt --steps (the autoattack version is the library's)
                "evaluate": {"attacks", "n", "eps", "step_size", "steps", "cw_steps", "square_queries", "batch_size",
                             "seed", "device"}}
    out = set()
    for name in inspect.signature(function).parameters:
        if name in groups:
            out |= groups[name]
        elif name == "settings" and function.__name__ in settings:
            out |= settings[function.__name__]
        else:
            out.add(name)
    return out


@pytest.mark.parametrize("command,function", [
    ("train", shieldkit.train), ("protect", shieldkit.protect), ("harden", shieldkit.harden),
    ("export", shieldkit.export), ("evaluate", shieldkit.evaluate), ("verify", shieldkit.verify.verify),
])
def test_cli_and_library_take_the_same_options(command, function):
    """Every option of a command is a parameter of its library call, or a field of one of the call's settings
    groups, and the other way round (verify's threshold flags fill its ``policy``'s thresholds)."""
    from shieldkit.verify.policy import THRESHOLD_KEYS

    cli_params = set(inspect.signature(getattr(cli, f"{command}_cmd")).parameters) - set(cli.CLI_ONLY)
    lib_params = _library_options(function) - LIBRARY_ONLY
    if command == "verify":
        cli_params -= set(THRESHOLD_KEYS)
    if command == "export":  # the library reads data_dir/preprocessing only; DataSettings has training's too
        lib_params -= {"download", "augment", "data_fraction"}
    if command in ("evaluate", "verify"):  # of DataSettings, no training fields
        lib_params -= {"augment", "data_fraction"} | ({"download"} if command == "verify" else set())
    assert cli_params == lib_params, (sorted(cli_params - lib_params), sorted(lib_params - cli_params))


def _weights(path):
    model, _ = shieldkit.load_model(path)
    return model.state_dict()


def test_a_runs_sidecar_repeats_it_as_config(tmp_path):
    args = ["train", "--data", "digits", "--arch", "cnn3", "--model-kwargs", '{"width": 8}', "--epochs", "2",
            "--lr", "0.05", "--batch-size", "64", "--seed", "3"]
    r = run(*args, "--out", tmp_path / "a.pt")
    assert r.exit_code == 0, r.output
    r = run("train", "--config", tmp_path / "a.json", "--out", tmp_path / "b.pt")
    assert r.exit_code == 0, r.output
    a, b = (json.loads((tmp_path / f"{n}.json").read_text())["settings"] for n in "ab")
    assert a["options"] == b["options"] and a["options"]["seed"] == 3 and a["options"]["model_kwargs"] == {"width": 8}
    wa, wb = _weights(tmp_path / "a.pt"), _weights(tmp_path / "b.pt")
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)  # same process, same seed
    # a flag given on the command line wins over the file
    r = run("train", "--config", tmp_path / "a.json", "--epochs", "1", "--out", tmp_path / "c.pt")
    assert r.exit_code == 0, r.output
    c = json.loads((tmp_path / "c.json").read_text())["settings"]
    assert c["options"]["epochs"] == 1 and c["options"]["batch_size"] == 64


def test_an_in_memory_dataset_is_recorded_by_name_not_by_its_arrays(tmp_path, digits16, tiny_cnn):
    """A Dataset is a dataclass too: its options must be its name, not every pixel (an 800 MB sidecar on CIFAR)."""
    shieldkit.train("cnn3", digits16, out=tmp_path / "t.pt", model_kwargs={"width": 4},
                    run={"epochs": 1, "progress": False})
    shieldkit.harden(tiny_cnn, shieldkit.load_dataset("digits"), student="cnn3", student_kwargs={"width": 4},
                     method="at", out=tmp_path / "h.pt", run={"epochs": 1, "n": 0, "progress": False},
                     settings={"attack": {"steps": 1}})
    for name in ("t", "h"):
        sidecar = tmp_path / f"{name}.json"
        options = json.loads(sidecar.read_text())["settings"]["options"]
        assert options["data"] == "digits" and not {"x", "y", "train", "test"} & options.keys(), name
        assert sidecar.stat().st_size < 20_000, (name, sidecar.stat().st_size)


def test_toml_config_and_its_errors(tmp_path):
    (tmp_path / "ok.toml").write_text('[train]\ndata = "digits"\narch = "cnn3"\nmodel-kwargs = {width = 8}\nepochs = 1\n'
                                      'batch-size = 64\n')
    r = run("train", "--config", tmp_path / "ok.toml", "--out", tmp_path / "m.pt")
    assert r.exit_code == 0, r.output
    options = json.loads((tmp_path / "m.json").read_text())["settings"]["options"]
    assert options["epochs"] == 1 and options["batch_size"] == 64 and options["model_kwargs"] == {"width": 8}
    cases = {
        "unknown.toml": ("epochz = 3\n", "unknown option(s) epochz"),
        "other.toml": ("[harden]\nepochs = 3\n", "configures `harden`"),
        "broken.toml": ("epochs = \n", "not valid TOML"),
        "plain.json": ('{"epochs": 3}', "not the settings file of a shieldkit run"),
    }
    for name, (text, words) in cases.items():
        (tmp_path / name).write_text(text)
        r = run("train", "--config", tmp_path / name, "--out", tmp_path / "x.pt")
        assert r.exit_code == 2 and words in one_error_line(r), (name, r.output)
    r = run("protect", tmp_path / "m.pt", "--config", tmp_path / "m.json", "--out", tmp_path / "p.pt")
    assert r.exit_code == 2 and "of a `train` run, not of `protect`" in one_error_line(r)
    r = run("train", "--config", tmp_path / "missing.toml", "--out", tmp_path / "x.pt")
    assert r.exit_code == 2 and "config file not found" in one_error_line(r)
    assert not (tmp_path / "x.pt").exists()


PLUGIN = """
import sys
from shieldkit.methods import HARDENING, PGDAT, Hardening

# a new hardening method: one registration, nothing else edited
HARDENING.add("throwaway", Hardening(lambda teacher, options: PGDAT(options.attack.pgd("ce")), needs_teacher=False))

from shieldkit.cli.main import app

app(sys.argv[1:], prog_name="shieldkit")
"""


def test_a_registered_method_appears_in_help_and_runs(tmp_path):
    (tmp_path / "plugin.py").write_text(PLUGIN)

    def shieldkit_with_plugin(*args):
        return subprocess.run([sys.executable, str(tmp_path / "plugin.py"), *map(str, args)], capture_output=True,
                              text=True, timeout=600, env={**os.environ, "COLUMNS": "200"})

    r = shieldkit_with_plugin("harden", "--help")
    assert r.returncode == 0 and "throwaway" in r.stdout, r.stdout + r.stderr
    r = shieldkit_with_plugin("harden", "--method", "throwaway", "--student", "cnn3", "--student-kwargs",
                              '{"width": 8}', "--data", "digits", "--epochs", "1", "--steps", "1", "--n",
                              "0", "--out", tmp_path / "s.pt")
    assert r.returncode == 0, r.stderr[-2000:]
    settings = json.loads((tmp_path / "s.json").read_text())["settings"]
    assert settings["options"]["method"] == "throwaway" and settings["method"]["method"] == "pgd-at"
    # without the plugin the name is refused, with the valid ones listed
    r = run("harden", "--data", "digits", "--method", "throwaway", "--out", tmp_path / "t.pt")
    assert r.exit_code == 2 and "ard-goldblum" in r.output and "throwaway" in r.output


def test_older_method_names_still_work():
    from shieldkit.methods import ADVERSARIAL_TRAINING, HARDENING

    assert HARDENING.canonical("at") == "pgd-at" and ADVERSARIAL_TRAINING.canonical("pgd") == "pgd-at"
    assert "at" not in HARDENING.names()  # accepted, not listed


def _own_imports_inside_functions(path: Path):
    source = path.read_text()
    lines = source.splitlines()
    for fn in ast.walk(ast.parse(source)):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(fn):
            own = (isinstance(node, ast.ImportFrom) and (node.level > 0 or (node.module or "").startswith("shieldkit"))) \
                or (isinstance(node, ast.Import) and any(a.name.startswith("shieldkit") for a in node.names))
            if own:
                context = " ".join(lines[max(0, node.lineno - 3):node.lineno])
                if "cycle" not in context:
                    yield f"{path.relative_to(ROOT)}:{node.lineno}: {lines[node.lineno - 1].strip()}"


def test_no_hidden_imports_of_our_own_modules():
    """An import of the project's own code inside a function hides the import graph; the only excuse is a cycle,
    and the comment next to it must say which."""
    paths = [p for d in ("shieldkit", "cli", "exporters", "verify") for p in (ROOT / d).rglob("*.py")]
    found = [hit for p in paths for hit in _own_imports_inside_functions(p)]
    assert not found, "\n".join(found)


def test_the_extending_guide_example_trains(tmp_path, digits16):
    """docs/extending.md's method, run as written: registered, chosen by name, trained by harden."""
    from shieldkit.methods import HARDENING

    text = (ROOT / "docs" / "extending.md").read_text()
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    try:
        exec(compile(code, "docs/extending.md", "exec"), {})
        assert "logit-matching" in HARDENING.names()
        teacher = shieldkit.train("cnn3", digits16, epochs=1, progress=False, model_kwargs={"width": 8})
        r = shieldkit.harden(teacher.model, digits16, student="cnn3", student_kwargs={"width": 8},
                             method="logit-matching", epochs=1, steps=1, n=0, progress=False)
        assert r.settings["method"]["method"] == "logit-matching" and r.history[-1]["loss_mse"] >= 0
    finally:
        if "logit-matching" in HARDENING:
            HARDENING.remove("logit-matching")


def test_imports_point_down_only():
    """docs/architecture.md's layers: core never imports verify, exporters or cli; exporters never import verify or
    cli; verify never imports cli. (The facade, shieldkit/__init__.py, re-exports every layer's calls.)"""
    root = Path(__file__).resolve().parents[1]
    forbidden = {"shieldkit": ("shieldkit.verify", "shieldkit.exporters", "shieldkit.cli"),
                 "exporters": ("shieldkit.verify", "shieldkit.cli"), "verify": ("shieldkit.cli",)}
    found = []
    for folder, banned in forbidden.items():
        for path in (root / folder).rglob("*.py"):
            if path == root / "shieldkit" / "__init__.py":
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
                found += [f"{path.relative_to(root)} imports {n}" for n in names if n.startswith(banned)]
    assert not found, found
