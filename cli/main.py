"""The ``shieldkit`` command line: each command's signature is its CLI, its body one library call.

An option that is a field of a settings dataclass (RunSettings, DataSettings, ModelSource, AttackSettings, a
method's settings) takes its name, default, help and choices from the field (:func:`field_option`), declared
there once; a command builds the settings objects from its options and calls the library by keyword. The
choices of ``--method``/``--adversarial`` are read from the method registries (:mod:`shieldkit.methods.options`). ``train``/``protect``/``harden`` take ``--config FILE`` (TOML, or the JSON a
run wrote beside its checkpoint: :mod:`shieldkit.config`); options given on the command line win.

Errors: the library raises typed errors; :func:`handle_errors` is the one place that turns them
into one line on stderr and an exit code (1 a verification threshold failed, 2 bad input, 3 inconclusive,
130 interrupted by Ctrl-C). Tables are drawn in :mod:`.tables`.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import typer
from typer.core import TyperCommand
from rich.console import Console
from rich.markup import escape

from shieldkit.api import harden, protect, train
from shieldkit.config import load_run_config
from shieldkit.distributed import is_main_process
from shieldkit.former_names import current_arguments, option
from shieldkit.errors import (ArtefactError, InputError, ShieldkitError, SignatureError, VerificationFailed,
                              VerificationInconclusive)
from shieldkit.attacks import AttackSettings
from shieldkit.exporters import export, inspect_path
from shieldkit.exporters.records import InspectStatus
from shieldkit.exporters.settings import GraphSettings, ParitySettings, RuntimeSettings
from shieldkit.robustness import RobustnessConfig
from shieldkit.exporters.signing import sign_artefact
from shieldkit.methods import (ADVERSARIAL_TRAINING, HARDENING, PROTECTIONS, HardenSettings, NastySettings,
                               RMLSettings, TrainSettings)
from shieldkit.methods.rml import DEFAULT_RECIPE, RECIPES
from shieldkit.models import list_models
from shieldkit.output_heads import OUTPUT_HEADS, PROTECT_HEAD
from shieldkit.run_settings import DataSettings, ModelSource, RunSettings
from shieldkit.utils import configure_threads, to_jsonable
from shieldkit.verify import evaluate, verify
from shieldkit.verify.policy import load_policy, with_overrides
from shieldkit.verify.settings import ProbeSettings, ReportFiles
from shieldkit.verify.results import Verdict
from shieldkit.version import __version__

from .demo import load_demo, run_demo, smoke_config
from .tables import demo_markdown, demo_table, inspect_table, parity_table, robustness_table, verdict_table

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  context_settings={"help_option_names": ["-h", "--help"]},
                  help="shieldkit: protect image classifiers before release.")
out_console = Console()
err_console = Console(stderr=True)


class Command(TyperCommand):
    """A command that also reads its options' former names (:data:`~shieldkit.former_names.FORMER_NAMES`), which
    ``--help`` does not show; each use prints a note naming the current one."""

    def parse_args(self, ctx, args):
        return super().parse_args(ctx, current_arguments(self.name, args))


INTERRUPTED = 130  # 128 + SIGINT, the shell's convention


def _error(message: str, code: int) -> typer.Exit:
    """Print one ``error:`` line; the caller raises the returned exit (code 2: bad input)."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def flag(*names: str, **kw):
    """An on/off option: ``--json``, not ``--json true`` (an empty metavar keeps ``--help`` from showing a value)."""
    return typer.Option(False, *names, metavar="", **kw)


def choice(names: Sequence[str], default: Any, *decls: str, help: str, canonical: Callable[[str], str] | None = None):
    """An option whose value is one of ``names`` (listed in ``--help``); ``canonical`` (a registry's) also accepts
    older spellings and returns the current name. A bad value is one ``error:`` line, exit 2."""
    names = list(names)

    def parse(value):
        if value is None or not isinstance(value, str):
            return value
        if canonical is not None:
            try:
                return canonical(value)
            except ShieldkitError as e:
                raise _error(f"{decls[0]}: {e}", 2) from None
        if value not in names:
            raise _error(f"{decls[0]} must be one of {', '.join(names)}, got {value!r}", 2)
        return value

    return typer.Option(default, *decls, metavar="[" + "|".join(names) + "]", parser=parse, help=help)


def registry_choice(registry, default: Any, *decls: str, help: str):
    """A method option whose choices are ``registry``'s names: a registered method appears here by itself."""
    return choice(registry.names(), default, *decls, help=help, canonical=registry.canonical)


def _version_callback(value: bool) -> None:
    if value:
        out_console.print(f"shieldkit {__version__}")
        raise typer.Exit()


# what the root options (-q, -v) set for the command that follows them
VERBOSITY = {"quiet": False, "verbose": False}


@app.callback()
def _root(version: bool = flag("--version", callback=_version_callback, is_eager=True,
                               help="print the version and exit"),
          quiet: bool = flag("--quiet", "-q", help="no progress bars or notes: results, warnings and errors only"),
          verbose: bool = flag("--verbose", "-v", help="show the traceback behind an error line (as "
                               "SHIELDKIT_DEBUG=1 does)")) -> None:
    """shieldkit: protect image classifiers before release."""
    VERBOSITY.update(quiet=quiet, verbose=verbose)


def progress() -> bool:
    """Whether a command shows progress bars (not under ``-q``)."""
    return not VERBOSITY["quiet"]


DEBUG_ENV = "SHIELDKIT_DEBUG"


def _debug_traceback() -> None:
    """With ``-v`` or ``SHIELDKIT_DEBUG=1``, the traceback behind a one-line error goes to stderr first (the line and
    the exit code stay as they are, so scripts reading them do not change)."""
    if VERBOSITY["verbose"] or os.environ.get(DEBUG_ENV, "") not in ("", "0"):
        import traceback

        traceback.print_exc(file=sys.stderr)


def handle_errors(fn):
    """Map shieldkit's typed errors (and OS errors on user paths) to one line on stderr and an exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ShieldkitError, OSError) as e:
            _debug_traceback()
            raise _error(str(e), e.exit_code if isinstance(e, ShieldkitError) else 2) from None
        except KeyboardInterrupt:
            out = kwargs.get("out")
            resume = Path(str(out) + ".resume") if out is not None else None
            hint = (f"; {resume} holds the last finished epoch: rerun with --resume to continue"
                    if resume is not None and resume.is_file() else "")
            raise _error(f"interrupted: no output was written{hint}", INTERRUPTED) from None

    return wrapper


CLI_ONLY = ("config", "as_json", "password_env")  # options of the command line alone: --config never sets them


def _apply_config(ctx: typer.Context, param, value: Optional[Path]):
    """``--config FILE``: its options become this command's defaults, so flags given on the command line win."""
    if value is None or ctx.resilient_parsing:
        return value
    params = {p.name: p for p in ctx.command.params if p.name not in CLI_ONLY}
    try:
        options = load_run_config(value, ctx.command.name, params)
    except ShieldkitError as e:
        raise _error(str(e), e.exit_code) from None
    defaults = {}
    for name, v in options.items():
        if v is None:
            continue
        if isinstance(v, list) and not params[name].multiple:
            v = ",".join(map(str, v))  # a recorded list (levels, lambdas) is written as the option's "a,b,c"
        defaults[name] = v
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    return value


def _parser(option: str, convert: Callable[[str], Any], expected: str):
    """A parser for ``option``: ``convert(text)``, a value read from a config file passed through, and a bad value
    as one ``error:`` line (exit 2)."""
    def parse(text):
        if text is None or not isinstance(text, str):
            return text
        try:
            return convert(text)
        except ValueError:
            raise _error(f"{option} must be {expected}, got {text!r}", 2) from None

    return parse


def _json_object(text: str) -> dict:
    value = json.loads(text)  # JSONDecodeError is a ValueError
    if not isinstance(value, dict):
        raise ValueError(text)
    return value


def _split(text: str, kind):
    return [kind(v.strip()) for v in text.split(",") if v.strip()]


def field_option(cls: type, name: str, *decls: str, default: Any = dataclasses.MISSING, prefix: str = "",
                 suffix: str = "", **option_kw: Any):
    """The option of field ``name`` of the settings dataclass ``cls`` (shieldkit/settings.py): its name
    (``--step-size``), default, help, choices and on/off form come from the field, declared there once."""
    f = next(f for f in dataclasses.fields(cls) if f.name == name)
    decls = decls or ((f.metadata["flag"],) if f.metadata.get("flag") else (option(name),))
    value = f.default if default is dataclasses.MISSING else default
    text = prefix + f.metadata["help"] + suffix
    if isinstance(f.default, bool) and (isinstance(value, bool) or f.metadata.get("flag")):
        return flag(*decls, help=text) if value is False and "/" not in decls[0] else \
            typer.Option(value, *decls, help=text)
    if f.metadata.get("choices"):
        return choice(f.metadata["choices"], value, *decls, help=text)
    return typer.Option(value, *decls, help=text, **option_kw)


def field_options(cls: type, **custom: dict) -> dict[str, Any]:
    """:func:`field_option` for every field of ``cls``; ``custom[name]`` holds that field's keyword overrides
    (``decls``: the option's names, where they are not the field's)."""
    def one(name: str, decls: tuple[str, ...] = (), **kw: Any):
        return field_option(cls, name, *decls, **kw)

    return {f.name: one(f.name, **custom.get(f.name, {})) for f in dataclasses.fields(cls)
            if f.metadata.get("help") and f.name != "attack"}


# the options of the settings groups (shieldkit/run_settings.py, shieldkit/attacks/budget.py), declared there
RUN = field_options(RunSettings, n={"suffix": " (adversarial runs)"})
INPUTS = field_options(DataSettings)
SOURCE = field_options(ModelSource)
ATTACK = field_options(AttackSettings)
ConfigOpt = typer.Option(None, "--config", is_eager=True, callback=_apply_config,
                         help="read options from a TOML file, or from the .json a run wrote beside its checkpoint "
                              "(repeats that run); options given here win")
DataOpt = typer.Option(..., "--data", help="digits | cifar10 | cifar100 | tiny-imagenet | FILE.npz | image folder "
                       "(required: a model is never trained on a dataset it did not name)")
MeanOpt = typer.Option(None, "--mean", metavar="M1,M2,M3", help=SOURCE["mean"].help,
                       parser=_parser("--mean", lambda t: _split(t, float), "comma-separated numbers"))
StdOpt = typer.Option(None, "--std", metavar="S1,S2,S3", help=SOURCE["std"].help,
                      parser=_parser("--std", lambda t: _split(t, float), "comma-separated numbers"))
ModelKwargsOpt = typer.Option(None, "--model-kwargs", metavar="JSON",
                              parser=_parser("--model-kwargs", _json_object, "a JSON object, e.g. '{\"width\": 8}'"),
                              help="keyword arguments of the architecture, e.g. '{\"width\": 8}' (recorded)")
ReportOpt = typer.Option(None, "--report", help="write the JSON report here")


def _annotation(f: dataclasses.Field, default: Any) -> Any:
    """The type a command-line option of field ``f`` parses to (None allowed where the default is None)."""
    kinds = {"bool": bool, "int": int, "float": float}
    kind = f.type if f.type in kinds.values() else kinds.get(str(f.type).split(" |")[0], str)
    return Optional[kind] if default is None else kind


def with_settings(name: str, cls: type, **field_kw: Any):
    """A command whose parameter ``name`` receives the options of every field of the settings dataclass ``cls``
    (:func:`field_option`, with ``field_kw``) as one mapping, the values not given None: a method's new
    hyper-parameter is then one field of its settings (and its test), and its option follows by itself."""
    fields = [f for f in dataclasses.fields(cls) if f.metadata.get("help") and f.name != "attack"]

    def decorate(fn):
        signature = inspect.signature(fn)
        own = [p for p in signature.parameters.values() if p.name != name]
        added = []
        for f in fields:
            kw = {**field_kw, **({"suffix": ""} if f.metadata.get("flag") else {})}
            added.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY,
                                           default=field_option(cls, f.name, **kw),
                                           annotation=_annotation(f, kw.get("default", f.default))))

        @functools.wraps(fn)
        def command(*args, **kwargs):
            kwargs[name] = {f.name: kwargs.pop(f.name) for f in fields}
            return fn(*args, **kwargs)

        command.__signature__ = signature.replace(parameters=own + added)
        return command

    return decorate


# RML's settings options: None = the recipe's value
RML_OPTIONS = {"default": None, "prefix": "RML: ", "suffix": " (default: the recipe's)"}
HARDEN = field_options(HardenSettings, levels={"default": "cat,sample,disc"}, lambdas={"default": "1,1,1"})
TRAIN = field_options(TrainSettings)
GRAPH = field_options(GraphSettings)
PARITY = field_options(ParitySettings)
RUNTIME = field_options(RuntimeSettings)
# evaluate's: RobustnessConfig's fields (pgd_steps spelt --steps; the AutoAttack version is the library's)
ROBUSTNESS = field_options(RobustnessConfig, attacks={"default": ",".join(RobustnessConfig().attacks)},
                           pgd_steps={"decls": ("--steps",)})
PROBE = field_options(ProbeSettings)
FILES = field_options(ReportFiles)


def _say(msg: str) -> None:
    if not VERBOSITY["quiet"]:
        err_console.print(f"[dim]{msg}[/]", highlight=False)


@app.command("train", cls=Command)
@handle_errors
def train_cmd(
    arch: str = typer.Option("resnet8", "--arch", help="a name (see `shieldkit models`), tv:NAME, timm:NAME, or your "
                             "own network as package.module:factory (called with num_classes; recorded so later "
                             "commands rebuild it; importing it runs that module's code)"),
    data: str = DataOpt,
    out: Path = typer.Option(..., "--out", help="checkpoint to write (settings go to the .json beside it)"),
    config: Optional[Path] = ConfigOpt,
    adversarial: Optional[str] = registry_choice(ADVERSARIAL_TRAINING, None, "--adversarial",
                                                 help="train a robust model (a teacher for harden); 'pgd' is "
                                                      "accepted for pgd-at"),
    model_kwargs: Optional[str] = ModelKwargsOpt,
    label_smoothing: float = TRAIN["label_smoothing"],
    trades_beta: float = TRAIN["trades_beta"],
    eps: float = ATTACK["eps"], steps: int = ATTACK["steps"], step_size: float = ATTACK["step_size"],
    epochs: Optional[int] = RUN["epochs"], lr: Optional[float] = RUN["lr"], batch_size: int = RUN["batch_size"],
    weight_decay: float = RUN["weight_decay"], schedule: str = RUN["schedule"], seed: int = RUN["seed"],
    device: str = RUN["device"], precision: str = RUN["precision"], compile: bool = RUN["compile"],
    loader: str = RUN["loader"], workers: int = RUN["workers"], n: int = RUN["n"], resume: bool = RUN["resume"],
    data_dir: Optional[Path] = INPUTS["data_dir"], download: bool = INPUTS["download"],
    image_size: Optional[int] = INPUTS["image_size"], resize: Optional[int] = INPUTS["resize"],
    center_crop: Optional[int] = INPUTS["center_crop"], augment: Optional[str] = INPUTS["augment"],
    data_fraction: float = INPUTS["data_fraction"],
) -> None:
    """Train a classifier: plain (a model to protect) or adversarially (a robust teacher for harden)."""
    r = train(arch, data, out=out, adversarial=adversarial, model_kwargs=model_kwargs,
              settings=TrainSettings(label_smoothing=label_smoothing, trades_beta=trades_beta,
                                     attack=AttackSettings(eps=eps, steps=steps, step_size=step_size)),
              run=RunSettings(epochs=epochs, lr=lr, batch_size=batch_size, weight_decay=weight_decay,
                              schedule=schedule, seed=seed, device=device, precision=precision, compile=compile,
                              loader=loader, workers=workers, n=n, resume=resume, progress=progress()),
              inputs=DataSettings(data_dir=data_dir, download=download, image_size=image_size, resize=resize,
                                  center_crop=center_crop, augment=augment, data_fraction=data_fraction))
    out_console.print(f"test accuracy {r.typed_figures.test_accuracy:.2f}%  ->  {r.path}")


def protect_settings(method: str, recipe: str, rml: dict[str, Any], omega: float | None,
                     attack: AttackSettings) -> dict[str, Any]:
    """The ``settings`` mapping of ``protect --method``, from the command line's flags (None: not given): RML's
    over the ``recipe``, or Nasty's, whose reader (methods/nasty.py) refuses RML's flags by name."""
    if PROTECTIONS.canonical(method) == "nasty":
        return {**rml, "omega": omega, "steps": attack.steps or None}
    if omega is not None:
        raise InputError("--omega is a setting of --method nasty, not of rml")
    return {"recipe": recipe, **rml, "attack": attack}


@app.command("protect", cls=Command)
@handle_errors
@with_settings("rml", RMLSettings, **RML_OPTIONS)
def protect_cmd(
    model: Path = typer.Argument(..., metavar="MODEL",
                                 help="trained model: shieldkit checkpoint, state_dict/.safetensors (+ --arch), "
                                      "TorchScript"),
    data: str = DataOpt,
    out: Path = typer.Option(..., "--out", help="protected checkpoint to write"),
    config: Optional[Path] = ConfigOpt,
    method: str = registry_choice(PROTECTIONS, "rml", "--method", help="protection method; nasty is the Nasty "
                                  "Teacher baseline (trained from scratch)"),
    recipe: str = choice(list(RECIPES), DEFAULT_RECIPE, "--recipe",
                         help="RML settings to start from: uniform (default: CE + uniform negatives) | flat (uniform "
                              "negatives, fixed confidence, logit flatness) | rml-paper (the paper's reading); the "
                              "options below override it"),
    steps: int = typer.Option(0, "--steps", help="RML: > 0 adds CE on PGD examples of this many steps (robust RML: keeps a hardened model "
        "robust); 0 (default): off"),
    eps: float = ATTACK["eps"], step_size: float = ATTACK["step_size"],
    omega: Optional[float] = field_option(NastySettings, "omega", default=None, prefix="Nasty: ",
                                          suffix=" (default 0.04; its temperature is --tau, default 4)"),
    head: str = choice(OUTPUT_HEADS, PROTECT_HEAD, "--head",
                       help="output head recorded for `export`: decision (the decision only, at a fixed "
                            "confidence) | confidence (the decision and its confidence; other classes made "
                            "equal) | logits (no head). A head protects the answer seat only: a file holder cuts "
                            "it off (docs/verification.md)"),
    epochs: Optional[int] = RUN["epochs"], lr: Optional[float] = RUN["lr"], batch_size: int = RUN["batch_size"],
    weight_decay: float = RUN["weight_decay"], schedule: str = RUN["schedule"], seed: int = RUN["seed"],
    device: str = RUN["device"], precision: str = RUN["precision"], compile: bool = RUN["compile"],
    loader: str = RUN["loader"], workers: int = RUN["workers"], n: int = RUN["n"], resume: bool = RUN["resume"],
    data_dir: Optional[Path] = INPUTS["data_dir"], download: bool = INPUTS["download"],
    image_size: Optional[int] = INPUTS["image_size"], resize: Optional[int] = INPUTS["resize"],
    center_crop: Optional[int] = INPUTS["center_crop"], augment: Optional[str] = INPUTS["augment"],
    data_fraction: float = INPUTS["data_fraction"],
    arch: Optional[str] = SOURCE["arch"], num_classes: Optional[int] = SOURCE["num_classes"],
    trust_pickle: bool = SOURCE["trust_pickle"], mean: Optional[str] = MeanOpt, std: Optional[str] = StdOpt,
    rml: dict[str, Any] = None,
) -> None:
    """Protect a trained classifier against knowledge distillation (RML)."""
    r = protect(model, data, out=out, method=method, head=head,
                settings=protect_settings(method, recipe, rml, omega,
                                          AttackSettings(eps=eps, steps=steps, step_size=step_size)),
                run=RunSettings(epochs=epochs, lr=lr, batch_size=batch_size, weight_decay=weight_decay,
                                schedule=schedule, seed=seed, device=device, precision=precision, compile=compile,
                                loader=loader, workers=workers, n=n, resume=resume, progress=progress()),
                inputs=DataSettings(data_dir=data_dir, download=download, image_size=image_size, resize=resize,
                                    center_crop=center_crop, augment=augment, data_fraction=data_fraction),
                source=ModelSource(arch=arch, num_classes=num_classes, trust_pickle=trust_pickle, mean=mean,
                                   std=std))
    f = r.typed_figures
    out_console.print(f"test accuracy: original {f.original_test_accuracy:.2f}%  protected "
                      f"{f.protected_test_accuracy:.2f}%  (drop {f.accuracy_drop:+.2f})  ->  {r.path}")


@app.command("harden", cls=Command)
@handle_errors
def harden_cmd(
    teacher: Optional[Path] = typer.Option(None, "--teacher", help="robust teacher (e.g. from train --adversarial); "
                                           "not needed for --method pgd-at"),
    student: str = typer.Option("mobilenetv2", "--student", help="student architecture (mobilenetv2, shufflenetv2, "
                                "resnet18, ...)"),
    out: Path = typer.Option(..., "--out", help="student checkpoint to write"),
    data: str = DataOpt,
    config: Optional[Path] = ConfigOpt,
    method: str = registry_choice(HARDENING, "ard", "--method", help="hardening method; pgd-at trains the "
                                  "student alone, without a teacher ('at' is accepted too)"),
    student_kwargs: Optional[str] = typer.Option(None, "--student-kwargs", metavar="JSON", parser=_parser(
                                                     "--student-kwargs", _json_object, "a JSON object"),
                                                 help="keyword arguments of the student architecture (recorded)"),
    levels: str = HARDEN["levels"], lambdas: str = HARDEN["lambdas"], gamma: float = HARDEN["gamma"],
    inner: str = HARDEN["inner"], base: str = HARDEN["base"], goldblum_alpha: float = HARDEN["goldblum_alpha"],
    goldblum_tau: float = HARDEN["goldblum_tau"],
    eps: float = ATTACK["eps"], steps: int = ATTACK["steps"], step_size: float = ATTACK["step_size"],
    epochs: Optional[int] = RUN["epochs"], lr: Optional[float] = RUN["lr"], batch_size: int = RUN["batch_size"],
    weight_decay: float = RUN["weight_decay"], schedule: str = RUN["schedule"], seed: int = RUN["seed"],
    device: str = RUN["device"], precision: str = RUN["precision"], compile: bool = RUN["compile"],
    loader: str = RUN["loader"], workers: int = RUN["workers"], n: int = RUN["n"], resume: bool = RUN["resume"],
    data_dir: Optional[Path] = INPUTS["data_dir"], download: bool = INPUTS["download"],
    image_size: Optional[int] = INPUTS["image_size"], resize: Optional[int] = INPUTS["resize"],
    center_crop: Optional[int] = INPUTS["center_crop"], augment: Optional[str] = INPUTS["augment"],
    data_fraction: float = INPUTS["data_fraction"],
    arch: Optional[str] = SOURCE["arch"], num_classes: Optional[int] = SOURCE["num_classes"],
    trust_pickle: bool = SOURCE["trust_pickle"], mean: Optional[str] = MeanOpt, std: Optional[str] = StdOpt,
) -> None:
    """Distil a robust teacher into a lightweight, adversarially robust student (ARD and baselines).

    Recommended: --method ard (the default) or rslad, with a robust teacher. On all of CIFAR-10 (ResNet-8
    students, one seed, standard AutoAttack on 1000 test images) their AutoAttack accuracy is within the
    measurement noise of pgd-at's, and their clean accuracy is higher; ard-goldblum falls below that noise.
    Figures: benchmarks/results/harden_cifar10_full.json (benchmarks/README.md, 'At full data')."""
    r = harden(teacher, data, out=out, student=student, student_kwargs=student_kwargs, method=method,
               settings=HardenSettings(levels=levels, lambdas=lambdas, gamma=gamma, inner=inner, base=base,
                                       goldblum_alpha=goldblum_alpha, goldblum_tau=goldblum_tau,
                                       attack=AttackSettings(eps=eps, steps=steps, step_size=step_size)),
               run=RunSettings(epochs=epochs, lr=lr, batch_size=batch_size, weight_decay=weight_decay,
                               schedule=schedule, seed=seed, device=device, precision=precision, compile=compile,
                               loader=loader, workers=workers, n=n, resume=resume, progress=progress()),
               inputs=DataSettings(data_dir=data_dir, download=download, image_size=image_size, resize=resize,
                                   center_crop=center_crop, augment=augment, data_fraction=data_fraction),
               source=ModelSource(arch=arch, num_classes=num_classes, trust_pickle=trust_pickle, mean=mean,
                                  std=std))
    f = r.typed_figures
    pgd20 = "n/a" if f.pgd20_accuracy is None else f"{f.pgd20_accuracy:.2f}%"
    out_console.print(f"student test accuracy: clean {f.test_accuracy:.2f}%, PGD-20 {pgd20} (n={f.pgd20_n or 0})  ->  "
                      f"{r.path}  (full evaluation: shieldkit evaluate {r.path} --data {data})")


@app.command("evaluate", cls=Command)
@handle_errors
def evaluate_cmd(
    model: Path = typer.Argument(..., metavar="MODEL",
                              help="checkpoint, artefact directory (scored on ONNX Runtime) or .onnx"),
    data: str = DataOpt,
    attacks: str = ROBUSTNESS["attacks"], n: int = ROBUSTNESS["n"], eps: float = ROBUSTNESS["eps"],
    step_size: float = ROBUSTNESS["step_size"], steps: int = ROBUSTNESS["pgd_steps"],
    cw_steps: int = ROBUSTNESS["cw_steps"], square_queries: int = ROBUSTNESS["square_queries"],
    transfer_from: Optional[Path] = typer.Option(None, "--transfer-from", help="source model for the transfer attack"),
    report: Optional[Path] = ReportOpt,
    seed: int = ROBUSTNESS["seed"], batch_size: int = ROBUSTNESS["batch_size"], device: str = ROBUSTNESS["device"],
    providers: str = RUNTIME["providers"], variant: str = RUNTIME["variant"],
    public_key: Optional[Path] = RUNTIME["public_key"],
    certificate_chain: Optional[list[Path]] = RUNTIME["certificate_chain"],
    trust_pickle: bool = RUNTIME["trust_pickle"],
    data_dir: Optional[Path] = INPUTS["data_dir"], download: bool = INPUTS["download"],
    image_size: Optional[int] = INPUTS["image_size"], resize: Optional[int] = INPUTS["resize"],
    center_crop: Optional[int] = INPUTS["center_crop"],
) -> None:
    """Clean and robust accuracy under l_inf attacks (FGSM, PGD-20, CW, AutoAttack, Square, transfer)."""
    r = evaluate(model, data, transfer_from=transfer_from, report=report, progress=progress(),
                 settings=RobustnessConfig(attacks=attacks, n=n, eps=eps, step_size=step_size, pgd_steps=steps,
                                           cw_steps=cw_steps, square_queries=square_queries, batch_size=batch_size,
                                           seed=seed, device=device),
                 runtime=RuntimeSettings(providers=providers, variant=variant, public_key=public_key,
                                         certificate_chain=certificate_chain, trust_pickle=trust_pickle),
                 inputs=DataSettings(data_dir=data_dir, download=download, image_size=image_size, resize=resize,
                                     center_crop=center_crop))
    out_console.print(robustness_table(r.report))
    if report is not None:
        out_console.print(f"report  ->  {report}")


@app.command("demo", cls=Command)
@handle_errors
def demo_cmd(out_dir: Optional[Path] = typer.Option(None, "--out-dir", help="keep models and demo.json here"),
             seed: int = RUN["seed"],
             smoke: bool = flag("--smoke", help="1 epoch everywhere: seconds, checks the wiring only"),
             render: Optional[Path] = typer.Option(None, "--render", help="print the Markdown table of a demo.json "
                                                   "this command wrote (no run): what the README quotes")) -> None:
    """Train -> protect -> export -> verify, original vs protected at both seats, on the bundled digits (a few
    minutes on CPU)."""
    if render is not None:
        print(demo_markdown(load_demo(render)))
        return
    out_console.print(demo_table(run_demo(smoke_config() if smoke else None, out_dir=out_dir, seed=seed, log=_say)))


@app.command("export", cls=Command)
@handle_errors
def export_cmd(
    model: Path = typer.Argument(..., metavar="MODEL",
                                 help="model to export: shieldkit checkpoint, or state_dict/.safetensors + --arch"),
    out: Path = typer.Option(..., "--out", help="artefact directory to write (model.onnx, manifest.json, and "
                             "model.safetensors unless the graph has a head)"),
    data: Optional[str] = typer.Option(None, "--data", help="images for parity (test split) and int8 calibration "
                                       "(train split)"),
    opset: int = GRAPH["opset"], batch_size: str = GRAPH["batch_size"],
    input_format: str = field_option(GraphSettings, "input_format", "--input"),
    input_shape: Optional[str] = GRAPH["input_shape"], head: Optional[str] = GRAPH["head"],
    decision_confidence: float = GRAPH["decision_confidence"], with_weights: bool = GRAPH["with_weights"],
    quantize: Optional[str] = GRAPH["quantize"], calibration_n: int = GRAPH["calibration_n"],
    n: int = PARITY["n"], providers: str = PARITY["providers"], max_abs_diff: float = PARITY["max_abs_diff"],
    min_agreement: float = PARITY["min_agreement"], seed: int = PARITY["seed"],
    overwrite: bool = flag("--overwrite", help="replace an existing --out directory"),
    data_dir: Optional[Path] = INPUTS["data_dir"],
    image_size: Optional[int] = INPUTS["image_size"], resize: Optional[int] = INPUTS["resize"],
    center_crop: Optional[int] = INPUTS["center_crop"],
    arch: Optional[str] = SOURCE["arch"], num_classes: Optional[int] = SOURCE["num_classes"],
    trust_pickle: bool = SOURCE["trust_pickle"], mean: Optional[str] = MeanOpt, std: Optional[str] = StdOpt,
) -> None:
    """Export to ONNX + safetensors with a manifest; check parity on ONNX Runtime (exit 1 if it fails)."""
    r = export(model, out, data=data, overwrite=overwrite, log=_say,
               graph=GraphSettings(opset=opset, batch_size=batch_size, input_format=input_format,
                                   input_shape=input_shape, head=head, decision_confidence=decision_confidence,
                                   with_weights=with_weights, quantize=quantize, calibration_n=calibration_n),
               parity=ParitySettings(n=n, providers=providers, max_abs_diff=max_abs_diff, min_agreement=min_agreement,
                                     seed=seed),
               inputs=DataSettings(data_dir=data_dir, image_size=image_size, resize=resize, center_crop=center_crop),
               source=ModelSource(arch=arch, num_classes=num_classes, trust_pickle=trust_pickle, mean=mean, std=std))
    out_console.print(parity_table(r.manifest))
    out_console.print(f"artefact  ->  {r.directory}")


@app.command("inspect", cls=Command)
@handle_errors
def inspect_cmd(
    path: Path = typer.Argument(..., metavar="PATH",
                              help="artefact directory (from `shieldkit export`) or a model file"),
    as_json: bool = flag("--json", help="print JSON instead of a table"),
    public_key: Optional[Path] = typer.Option(None, "--public-key", help="check the artefact's signature (model.sig) "
                                              "and its verify attestation with this public key (PEM)"),
    certificate_chain: Optional[list[Path]] = RUNTIME["certificate_chain"],
    arch: Optional[str] = SOURCE["arch"], num_classes: Optional[int] = SOURCE["num_classes"],
    trust_pickle: bool = SOURCE["trust_pickle"],
) -> None:
    """Show an artefact's manifest (and whether its files are intact and its signature holds) or a checkpoint's
    metadata.

    Exit 2 when an artefact's files do not match its manifest, or its signature does not verify with
    --public-key (after printing what was found)."""
    info = inspect_path(path, arch=arch, num_classes=num_classes, trust_pickle=trust_pickle, public_key=public_key,
                        certificate_chain=certificate_chain)
    if as_json:
        print(json.dumps(to_jsonable(info.to_dict()), indent=2))
    else:
        out_console.print(inspect_table(info))
    if info.status == InspectStatus.INTEGRITY_FAILED:
        raise ArtefactError(f"{path}: integrity {info.integrity}")
    if info.status == InspectStatus.SIGNATURE_FAILED:
        raise SignatureError(f"{path}: signature {info.signature}")


@app.command("verify", cls=Command)
@handle_errors
def verify_cmd(
    artefact: Path = typer.Argument(..., metavar="ARTEFACT",
                              help="artefact directory or .onnx (probed through ONNX Runtime), or a "
                                    "checkpoint (torch)"),
    data: str = typer.Option(..., "--data", help="dataset: attacker split of train, students scored on test"),
    reference: Optional[Path] = typer.Option(None, "--reference", help="the unprotected model (or its artefact): its "
                                             "best KD gain must clear the margin as a 95% lower bound, else (and "
                                             "without it) the verdict is INCONCLUSIVE; also for relative thresholds"),
    matched_reference: Optional[Path] = typer.Option(None, "--matched-reference",
                                                     help="a clean model of the protected model's accuracy (trained "
                                                          "from scratch): a second baseline, checked like --reference"),
    policy: Optional[Path] = typer.Option(None, "--policy", help="TOML release policy (thresholds, budget, seeds, "
                                          "probes)"),
    budget: Optional[str] = PROBE["budget"],
    seats: Optional[str] = field_option(ProbeSettings, "seats", metavar="file,answer", parser=_parser(
        "--seats", lambda t: _split(t, str), "comma-separated seat names")),
    probes: Optional[str] = field_option(ProbeSettings, "probes", metavar="P,Q", parser=_parser(
        "--probes", lambda t: _split(t, str), "comma-separated names")),
    seeds: Optional[str] = field_option(ProbeSettings, "seeds", metavar="S1,S2,...", parser=_parser(
        "--seeds", lambda t: _split(t, int), "comma-separated integers")),
    epochs: Optional[int] = PROBE["epochs"], query_budget: Optional[int] = PROBE["query_budget"],
    precision: str = PROBE["precision"],
    report: Optional[Path] = FILES["report"], summary: Optional[Path] = FILES["summary"],
    junit: Optional[Path] = FILES["junit"], plot: Optional[Path] = FILES["plot"],
    model_card: Optional[Path] = FILES["model_card"],
    providers: str = RUNTIME["providers"], variant: str = RUNTIME["variant"],
    public_key: Optional[Path] = RUNTIME["public_key"],
    certificate_chain: Optional[list[Path]] = RUNTIME["certificate_chain"],
    trust_pickle: bool = RUNTIME["trust_pickle"],
    max_kd_gain: Optional[float] = typer.Option(None, "--max-kd-gain", help="points (default 0.5): bound on the "
                                                "95% upper bound of the worst attacker's paired KD gain"),
    max_datafree_accuracy: Optional[float] = typer.Option(None, "--max-datafree-accuracy", help="%"),
    max_datafree_ratio: Optional[float] = typer.Option(None, "--max-datafree-ratio", help="vs --reference"),
    max_accuracy_drop: Optional[float] = typer.Option(None, "--max-accuracy-drop", help="points vs --reference"),
    max_recorded_accuracy_drop: Optional[float] = typer.Option(
        None, "--max-recorded-accuracy-drop", help="points below the accuracy recorded with the model (before "
        "protection); default 3, checked when the data is the data it was recorded on"),
    min_accuracy: Optional[float] = typer.Option(None, "--min-accuracy", help="%"),
    min_parity_agreement: Optional[float] = typer.Option(None, "--min-parity-agreement", help="0..1, from the manifest"),
    min_pgd20: Optional[float] = typer.Option(None, "--min-pgd20", help="%: robust accuracy under PGD-20 (adds "
                                              "robustness)"),
    min_autoattack: Optional[float] = typer.Option(None, "--min-autoattack", help="%: robust accuracy under AutoAttack"),
    data_dir: Optional[Path] = INPUTS["data_dir"],
    image_size: Optional[int] = INPUTS["image_size"], resize: Optional[int] = INPUTS["resize"],
    center_crop: Optional[int] = INPUTS["center_crop"],
) -> None:
    """Probe the released artefact with a panel of KD attackers at two seats (answer: the graph as shipped; file:
    the graph cut below any output head, what anyone holding the file reaches); exit 0 PASS, 1 FAIL, 2 bad input,
    3 INCONCLUSIVE (no check applied, or no --reference showed the probe's power)."""
    thresholds = dict(max_kd_gain=max_kd_gain, max_datafree_accuracy=max_datafree_accuracy,
                      max_datafree_ratio=max_datafree_ratio, max_accuracy_drop=max_accuracy_drop,
                      max_recorded_accuracy_drop=max_recorded_accuracy_drop, min_accuracy=min_accuracy,
                      min_parity_agreement=min_parity_agreement, min_pgd20=min_pgd20, min_autoattack=min_autoattack)
    r = verify(artefact, data, reference=reference, matched_reference=matched_reference,
               policy=with_overrides(load_policy(policy), **thresholds), log=_say,
               probe=ProbeSettings(budget=budget, probes=probes, seeds=seeds, epochs=epochs, seats=seats,
                                   query_budget=query_budget, precision=precision, progress=progress()),
               runtime=RuntimeSettings(providers=providers, variant=variant, public_key=public_key,
                                       certificate_chain=certificate_chain, trust_pickle=trust_pickle),
               inputs=DataSettings(data_dir=data_dir, image_size=image_size, resize=resize, center_crop=center_crop),
               outputs=ReportFiles(report=report, summary=summary, junit=junit, plot=plot,
                                   model_card=model_card)).typed_report
    out_console.print(verdict_table(r))
    for path in (report, summary, junit, plot, model_card):
        if path is not None:
            out_console.print(f"{path.name}  ->  {path}")
    if r.verdict == Verdict.FAIL:
        raise VerificationFailed("verification FAILED: " + "; ".join(c.violation for c in r.failed_checks))
    if r.verdict == Verdict.INCONCLUSIVE:
        raise VerificationInconclusive("verification INCONCLUSIVE: " + "; ".join(r.inconclusive))


@app.command("sign", cls=Command)
@handle_errors
def sign_cmd(
    directory: Path = typer.Argument(..., metavar="DIRECTORY",
                              help="artefact directory (from `shieldkit export`)"),
    private_key: Path = typer.Option(..., "--key", help="private key (PEM, elliptic curve: P-256/P-384/P-521)"),
    report: Optional[Path] = typer.Option(None, "--report", help="a `verify --report` JSON of this artefact: stored "
                                          "beside it as a signed attestation of what was tested"),
    certificate: Optional[Path] = typer.Option(None, "--certificate", help="sign with this X.509 certificate (PEM) "
                                               "for --key instead of a bare key"),
    certificate_chain: Optional[list[Path]] = typer.Option(None, "--certificate-chain",
                                                           help="the certificate's chain (PEM; repeat the option)"),
    password_env: Optional[str] = typer.Option(None, "--password-env", help="name of the environment variable "
                                               "holding the key's password (never put it on the command line)"),
) -> None:
    """Sign an artefact (model.sig, through OpenSSF model-signing) and attest its verify report.

    Check with `shieldkit inspect DIR --public-key KEY.pub` or `verify DIR --public-key KEY.pub`."""
    if password_env is not None and password_env not in os.environ:
        raise InputError(f"--password-env {password_env}: that environment variable is not set")
    written = sign_artefact(directory, private_key, report=report, certificate=certificate,
                            certificate_chain=certificate_chain,
                            password=os.environ[password_env] if password_env is not None else None)
    out_console.print(f"signature  ->  {written['signature']}")
    if "attestation" in written:
        out_console.print(f"attestation ({written['verdict']})  ->  {written['attestation']}")
    for name in written.get("removed", []):
        out_console.print(f"removed the earlier attestation {name} (pass --report to attest again)")


@app.command("models")
def models_cmd() -> None:
    """List the architecture names (torchvision models also as tv:<name>)."""
    out_console.print("\n".join(list_models()) + "\ntv:<any torchvision classification model>")


def _click_errors(name: str) -> tuple[type, ...]:
    """click's exception ``name`` as the installed Typer raises it (recent Typer vendors click as ``typer._click``;
    older ones use click itself), so that :func:`main` catches both."""
    import importlib

    found = []
    for module in ("typer._click.exceptions", "click.exceptions"):
        try:
            found.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            continue
    return tuple(found)


def main() -> None:
    """The ``shieldkit`` entry point. Usage errors (an unknown option, a missing argument, a bad value that click
    itself checks) are one ``error:`` line and exit 2, like every other bad input, instead of click's boxed usage;
    no arguments at all print the help."""
    configure_threads()
    if not is_main_process():  # torchrun: one rank speaks
        out_console.quiet = True
    try:  # under torchrun, the engine leaves the process group it joined at exit
        code = app(prog_name="shieldkit", standalone_mode=False)
    except _click_errors("NoArgsIsHelpError") as e:
        out_console.print(e.ctx.get_help())
        sys.exit(0)
    except _click_errors("UsageError") as e:
        where = f"; see '{e.ctx.command_path} --help'" if e.ctx is not None else ""
        message = e.format_message().rstrip(".")
        err_console.print(f"[bold red]error:[/] {escape(message)}{where}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except (typer.Abort, *_click_errors("Abort")):
        err_console.print("[bold red]error:[/] interrupted", highlight=False)
        sys.exit(INTERRUPTED)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    sys.exit(main())
