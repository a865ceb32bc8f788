"""Settings declared once (shieldkit/settings.py): a field carries its default, help and bounds; the command line
derives its option from the field, so a new hyper-parameter is one field in one file."""

import dataclasses
import json

import pytest
import typer
from typer.testing import CliRunner

import shieldkit
from cli_helpers import one_error_line, run
from shieldkit.cli import main as cli
from shieldkit.errors import InputError
from shieldkit.methods.rml import RECIPES, RML, RMLSettings, recipe_settings
from shieldkit.settings import check_settings, setting


def test_tau_is_declared_once_from_the_flag_to_the_loss():
    """--tau's help is RMLSettings.tau's, its bound is checked there, and the RML step reads it from there."""
    field = next(f for f in dataclasses.fields(RMLSettings) if f.name == "tau")
    protect = typer.main.get_command(cli.app).commands["protect"]
    (option,) = [p for p in protect.params if "--tau" in p.opts]
    assert field.metadata["help"] in option.help and option.default is None  # None: the recipe's value
    with pytest.raises(InputError, match="--tau must be a positive number"):
        RMLSettings(tau=0.0)
    step = RML(__import__("torch").nn.Identity(), recipe_settings("flat", {"tau": 2.5}))
    assert step.rml.tau == 2.5 and step.settings()["tau"] == 2.5
    assert recipe_settings("uniform") == RMLSettings()  # the dataclass defaults are the default recipe


def test_recipes_are_settings_and_overrides_are_checked():
    assert all(isinstance(r, RMLSettings) for r in RECIPES.values())
    assert recipe_settings("rml-paper", {"beta": 1.0, "tau": None}).beta == 1.0
    with pytest.raises(InputError, match="unknown RML setting"):
        recipe_settings("uniform", {"gamma": 1.0})
    with pytest.raises(InputError, match="--negatives must be one of"):
        RMLSettings(negatives="sideways")
    with pytest.raises(InputError, match="strictly between 0 and 1"):
        RMLSettings(confidence="fixed:2")
    for bad in (-1.0, float("nan")):
        with pytest.raises(InputError, match="--beta must be a number >= 0"):
            RMLSettings(beta=bad)


@dataclasses.dataclass(frozen=True)
class Throwaway:
    """A method's settings with one new hyper-parameter: nothing else is edited anywhere."""

    gamma: float = setting(2.0, "a new weight of a new term", minimum=0)
    mode: str = setting("a", "a new mode", choices=("a", "b"))

    def __post_init__(self):
        check_settings(self)


def test_a_new_hyper_parameter_is_one_field():
    """The CLI reads a method's settings with with_settings: the new field is an option with its help, default and
    bound, and reaches the command as a mapping; nothing else names it."""
    app = typer.Typer(add_completion=False)

    @app.command()
    @cli.with_settings("settings", Throwaway, default=None)
    def go(settings: dict = None) -> None:
        s = Throwaway(**{k: v for k, v in settings.items() if v is not None})
        print(json.dumps(dataclasses.asdict(s)))

    @app.command()
    def other() -> None:  # a second command, so that the one above is addressed by its name
        pass

    runner = CliRunner()
    help_text = runner.invoke(app, ["go", "--help"]).output
    assert "--gamma" in help_text and "a new weight" in help_text and "--mode" in help_text
    assert json.loads(runner.invoke(app, ["go", "--gamma", "3"]).output) == {"gamma": 3.0, "mode": "a"}
    r = runner.invoke(app, ["go", "--gamma", "-1"])
    assert r.exit_code != 0 and "--gamma must be a number >= 0" in repr(r.exception)
    r = runner.invoke(app, ["go", "--mode", "c"])
    assert r.exit_code == 2


def test_protect_records_the_settings_group_and_replays_it(tmp_path, tiny_cnn):
    trained = tiny_cnn
    r = run("protect", trained, "--data", "digits", "--epochs", "1", "--tau", "2", "--recipe", "flat",
            "--out", tmp_path / "p.pt")
    assert r.exit_code == 0, r.output
    settings = json.loads((tmp_path / "p.json").read_text())["settings"]
    assert settings["options"]["tau"] == 2.0 and settings["method"]["tau"] == 2.0
    assert settings["method"]["flatness"] == RECIPES["flat"].flatness
    r = run("protect", trained, "--config", tmp_path / "p.json", "--out", tmp_path / "q.pt")
    assert r.exit_code == 0, r.output
    again = json.loads((tmp_path / "q.json").read_text())["settings"]
    assert again["method"] == settings["method"]
    r = run("protect", trained, "--data", "digits", "--tau", "0", "--out", tmp_path / "x.pt")
    assert r.exit_code == 2 and "--tau must be a positive number" in one_error_line(r)
    assert not (tmp_path / "x.pt").exists()


def test_the_flat_library_keywords_still_work(tiny_cnn, tmp_path):
    trained = tiny_cnn
    with pytest.warns(FutureWarning, match="tau= is now settings.tau="):
        r = shieldkit.protect(trained, "digits", epochs=1, tau=2.0, progress=False)
    assert r.settings["method"]["tau"] == 2.0 and r.settings["train"]["epochs"] == 1
    with pytest.warns(FutureWarning, match="rml= is now settings="):
        r = shieldkit.protect(trained, "digits", run={"epochs": 1, "progress": False},
                              rml=RMLSettings(tau=3.0, beta=0.25))
    assert r.settings["method"]["tau"] == 3.0 and r.settings["method"]["beta"] == 0.25
    with pytest.raises(InputError, match="--method nasty takes --tau and --omega"):
        shieldkit.protect(trained, "digits", method="nasty", settings={"beta": 1.0}, run={"epochs": 1})


def test_entry_points_take_settings_objects_and_at_most_about_ten_parameters():
    from shieldkit.run_settings import RunSettings

    for fn in (shieldkit.train, shieldkit.protect, shieldkit.harden, shieldkit.export, shieldkit.evaluate,
               shieldkit.verify.verify):
        assert len(__import__("inspect").signature(fn).parameters) <= 10, fn.__name__
    with pytest.raises(InputError, match="unknown run= field"):
        shieldkit.train("cnn3", "digits", run={"epoch": 1})
    with pytest.raises(InputError, match="--epochs must be a number >= 1"):
        RunSettings(epochs=0)
    with pytest.raises(InputError, match="give epochs= inside run="):
        shieldkit.train("cnn3", "digits", run=RunSettings(epochs=1), epochs=2)


@pytest.mark.parametrize("command", ["train", "protect", "harden"])
def test_eps_batch_size_and_steps_come_from_their_fields(command):
    """Each command's --eps, --step-size, --batch-size and --epochs are the fields' options (help and default), so
    they are declared once: AttackSettings and RunSettings."""
    from shieldkit.attacks import AttackSettings
    from shieldkit.run_settings import RunSettings

    params = {o: p for p in typer.main.get_command(cli.app).commands[command].params for o in p.opts}
    for cls, name in ((AttackSettings, "eps"), (AttackSettings, "step_size"), (RunSettings, "batch_size"),
                      (RunSettings, "epochs")):
        field = next(f for f in dataclasses.fields(cls) if f.name == name)
        option = params["--" + name.replace("_", "-")]
        assert field.metadata["help"] in option.help and option.default == field.default, (command, name)


def test_omega_is_refused_with_method_rml(tmp_path):
    """--omega belongs to --method nasty: with rml it is one error line and exit 2, before any model is read."""
    r = run("protect", str(tmp_path / "missing.pt"), "--data", "digits", "--out", tmp_path / "p.pt", "--method", "rml",
            "--omega", "0.1")
    assert r.exit_code == 2
    assert one_error_line(r) == "error: --omega is a setting of --method nasty, not of rml"


def test_verify_takes_its_thresholds_in_the_policy(tmp_path):
    """verify's policy= is a Policy, a file or a mapping of thresholds over the default policy's; the former
    thresholds= still works, with a FutureWarning, and lands in the same place."""
    from shieldkit.verify.policy import DEFAULT_MAX_RECORDED_DROP
    from shieldkit.verify.policy import as_policy

    pol = as_policy({"max_kd_gain": 1.5, "min_accuracy": 80})
    assert pol.thresholds.max_kd_gain == 1.5 and pol.thresholds.min_accuracy == 80.0
    assert pol.thresholds.max_recorded_accuracy_drop == DEFAULT_MAX_RECORDED_DROP  # the rest: the default's
    with pytest.raises(InputError, match="unknown threshold 'max_kd_gian'"):
        as_policy({"max_kd_gian": 1.0})
    with pytest.warns(FutureWarning, match="thresholds= is now part of policy="):
        with pytest.raises(InputError, match="unknown threshold"):  # moved before anything is read
            shieldkit.verify.verify(tmp_path / "missing", "digits", thresholds={"max_kd_gian": 1.0})
