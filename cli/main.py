"""The ``shieldkit`` command line: each command's signature is its CLI, its body one library call.

Errors: the library raises typed errors; :func:`handle_errors` is the one place that turns them
into one line on stderr and an exit code (1 a verification threshold failed, 2 bad input, 3 inconclusive,
130 interrupted by Ctrl-C).
"""

from __future__ import annotations

import functools
import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape

from shieldkit.errors import InputError

app = typer.Typer(add_completion=True, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="shieldkit: protect image classifiers before release.")
out_console = Console()
err_console = Console(stderr=True)


INTERRUPTED = 130  # 128 + SIGINT, the shell's convention


def flag(name: str, **kw):
    """An on/off option: ``--json``, not ``--json true`` (an empty metavar keeps ``--help`` from showing a value)."""
    return typer.Option(False, name, metavar="", **kw)


def _version_callback(value: bool) -> None:
    if value:
        from shieldkit import __version__

        out_console.print(f"shieldkit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = flag("--version", callback=_version_callback, is_eager=True,
                                       help="print the version and exit")) -> None:
    """shieldkit: protect image classifiers before release."""


def handle_errors(fn):
    """Map shieldkit's typed errors (and OS errors on user paths) to one line on stderr and an exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from shieldkit.errors import ShieldkitError

        try:
            return fn(*args, **kwargs)
        except (ShieldkitError, OSError) as e:
            err_console.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
            raise typer.Exit(e.exit_code if isinstance(e, ShieldkitError) else 2) from None
        except KeyboardInterrupt:
            out = kwargs.get("out")
            resume = Path(str(out) + ".resume") if out is not None else None
            hint = (f"; {resume} holds the last finished epoch: rerun with --resume to continue"
                    if resume is not None and resume.is_file() else "")
            err_console.print(f"[bold red]error:[/] interrupted: no output was written{escape(hint)}",
                              highlight=False, soft_wrap=True)
            raise typer.Exit(INTERRUPTED) from None

    return wrapper


class Negatives(str, Enum):
    mirror = "mirror"
    negate = "negate"
    uniform = "uniform"


class Recipe(str, Enum):
    uniform = "uniform"
    flat = "flat"
    rml_paper = "rml-paper"


class ProtectMethod(str, Enum):
    rml = "rml"
    nasty = "nasty"


class Variant(str, Enum):
    fp32 = "fp32"
    int8 = "int8"


class Adversarial(str, Enum):
    pgd = "pgd"
    trades = "trades"


EpsOpt = typer.Option(8 / 255, "--eps", help="ℓ∞ radius on [0, 1] inputs (default 8/255)")
CompileOpt = flag("--compile", help="torch.compile the training forward (see benchmarks/throughput.py)")
LoaderOpt = typer.Option("device", "--loader", help="device (in-memory, on-device batches) | dataloader (workers)")
WorkersOpt = typer.Option(2, "--workers", help="DataLoader workers with --loader dataloader")
DataOpt = typer.Option("digits", "--data", help="digits | cifar10 | cifar100 | tiny-imagenet | FILE.npz | image folder")
DataDirOpt = typer.Option(None, "--data-dir", help="where named datasets live (default $SHIELDKIT_DATA_DIR or ./data)")
ArchOpt = typer.Option(None, "--arch", help="architecture of a bare state_dict: a name (`shieldkit models`), tv:NAME, "
                       "timm:NAME or package.module:factory (importing it runs that module's code)")
NumClassesOpt = typer.Option(None, "--num-classes", help="number of classes of a bare state_dict")
TrustPickleOpt = flag("--trust-pickle", help="allow loading a fully pickled model (runs code!)")
ImageSizeOpt = typer.Option(None, "--image-size", help="stretch every image to N×N pixels (folders as they are decoded, "
                            "arrays bilinearly); default: what the model was trained with (recorded)")
ResizeOpt = typer.Option(None, "--resize", help="scale the shorter side to S pixels (aspect kept), then a centred crop")
CenterCropOpt = typer.Option(None, "--center-crop", help="the centred C×C crop (default S with --resize)")
AugmentOpt = typer.Option(None, "--augment", help="training augmentation: crop (pad-and-crop, CIFAR style) | rrc "
                          "(random-resized-crop + flip, ImageNet style) | none; default: the dataset's (crop)")
CertChainOpt = typer.Option(None, "--certificate-chain", help="check the signature against this CA chain (PEM; "
                            "repeat the option) instead of --public-key")
DownloadOpt = flag("--download", help="download CIFAR-10/100 if missing (off by default)")


@app.command("train")
@handle_errors
def train_cmd(
    arch: str = typer.Option("resnet8", "--arch", help="a name (see `shieldkit models`), tv:NAME, timm:NAME, or your "
                             "own network as package.module:factory (called with num_classes; recorded so later "
                             "commands rebuild it; importing it runs that module's code)"),
    data: str = DataOpt,
    out: Path = typer.Option(..., "--out", help="checkpoint to write (settings go to the .json beside it)"),
    epochs: int = typer.Option(30, "--epochs", help="passes over the training split"),
    batch_size: int = typer.Option(128, "--batch-size", help="images per step (the global batch under torchrun)"),
    lr: float = typer.Option(0.1, "--lr", help="peak SGD learning rate (Nesterov momentum 0.9)"),
    weight_decay: float = typer.Option(5e-4, "--weight-decay", help="L2 weight decay on weights (not biases/BN)"),
    schedule: str = typer.Option("cosine", "--schedule", help="cosine | constant | step"),
    label_smoothing: float = typer.Option(0.0, "--label-smoothing", help="ε of label-smoothed cross-entropy"),
    seed: int = typer.Option(0, "--seed", help="seeds initialisation, shuffling and augmentation"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda | cuda:N"),
    data_dir: Optional[Path] = DataDirOpt,
    download: bool = DownloadOpt,
    resume: bool = flag("--resume", help="continue from OUT.resume"),
    adversarial: Optional[Adversarial] = typer.Option(None, "--adversarial",
                                                      help="pgd (PGD-AT) | trades: train a robust model (a teacher)"),
    eps: float = EpsOpt,
    attack_steps: int = typer.Option(10, "--attack-steps", help="PGD steps of the training attack"),
    attack_step_size: float = typer.Option(2 / 255, "--attack-step-size", help="PGD step size (on [0, 1] inputs)"),
    trades_beta: float = typer.Option(6.0, "--trades-beta", help="TRADES: weight of the KL term"),
    compile: bool = CompileOpt,
    loader: str = LoaderOpt,
    workers: int = WorkersOpt,
    image_size: Optional[int] = ImageSizeOpt,
    resize: Optional[int] = ResizeOpt,
    center_crop: Optional[int] = CenterCropOpt,
    augment: Optional[str] = AugmentOpt,
) -> None:
    """Train a classifier: plain (a model to protect) or adversarially (a robust teacher for harden)."""
    from shieldkit import train

    r = train(arch, data, out=out, epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
              schedule=schedule, label_smoothing=label_smoothing, seed=seed, device=device, data_dir=data_dir,
              download=download, resume=resume, adversarial=adversarial.value if adversarial else None, eps=eps,
              attack_steps=attack_steps, attack_step_size=attack_step_size, trades_beta=trades_beta,
              compile=compile, loader=loader, workers=workers, image_size=image_size, resize=resize,
              center_crop=center_crop, augment=augment)
    out_console.print(f"test accuracy {r.figures['test_accuracy']:.2f}%  ->  {r.path}")


@app.command("protect")
@handle_errors
def protect_cmd(
    model: Path = typer.Argument(..., help="trained model: shieldkit checkpoint, state_dict/.safetensors (+ --arch), TorchScript"),
    data: str = DataOpt,
    out: Path = typer.Option(..., "--out", help="protected checkpoint to write"),
    method: ProtectMethod = typer.Option(ProtectMethod.rml, "--method", help="rml | nasty (baseline, from scratch)"),
    recipe: Recipe = typer.Option(Recipe.uniform, "--recipe", help="RML settings to start from: uniform (default: CE + "
                                  "uniform negatives) | flat (uniform negatives, fixed confidence, logit flatness) | "
                                  "rml-paper (the paper's reading); the options below override it"),
    alpha: Optional[float] = typer.Option(None, "--alpha", help="RML: weight of the binary (target vs rest) term"),
    beta: Optional[float] = typer.Option(None, "--beta", help="RML: weight of the negatives term"),
    tau: Optional[float] = typer.Option(None, "--tau", help="temperature of the RML terms (Nasty: default 4)"),
    negatives: Optional[Negatives] = typer.Option(None, "--negatives", "--reverse",
                                                  help="RML: target of the negatives: mirror | negate (inverted "
                                                       "ranking) | uniform (no ranking)"),
    confidence: Optional[str] = typer.Option(None, "--confidence", help="RML: target confidence of the binary term: "
                                             "original | equalized | fixed:C (0<C<1)"),
    ce_weight: Optional[float] = typer.Option(None, "--ce-weight", help="RML: weight of the cross-entropy term"),
    flatness: Optional[float] = typer.Option(None, "--flatness", help="RML: weight of the logit-variance term that "
                                             "flattens the negatives at every temperature"),
    no_labels: bool = flag("--no-labels", help="RML: use the original's argmax as target"),
    omega: float = typer.Option(0.04, "--omega", help="Nasty: weight of the adversarial KL term"),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="default 5 (rml) / 30 (nasty)"),
    lr: Optional[float] = typer.Option(None, "--lr", help="default 0.01 (rml) / 0.1 (nasty)"),
    batch_size: int = typer.Option(128, "--batch-size", help="images per step"),
    seed: int = typer.Option(0, "--seed", help="seeds initialisation, shuffling and augmentation"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda | cuda:N"),
    data_dir: Optional[Path] = DataDirOpt,
    download: bool = DownloadOpt,
    resume: bool = flag("--resume", help="continue from OUT.resume"),
    arch: Optional[str] = ArchOpt,
    num_classes: Optional[int] = NumClassesOpt,
    trust_pickle: bool = TrustPickleOpt,
    compile: bool = CompileOpt,
    loader: str = LoaderOpt,
    workers: int = WorkersOpt,
    adversarial_steps: int = typer.Option(0, "--adversarial-steps", help="RML: >0 adds CE on PGD examples (keeps a hardened model robust)"),
    eps: float = EpsOpt,
    attack_step_size: float = typer.Option(2 / 255, "--attack-step-size"),
    adv_weight: float = typer.Option(1.0, "--adv-weight", help="RML: weight of the adversarial CE term"),
    image_size: Optional[int] = ImageSizeOpt,
    resize: Optional[int] = ResizeOpt,
    center_crop: Optional[int] = CenterCropOpt,
    augment: Optional[str] = AugmentOpt,
) -> None:
    """Protect a trained classifier against knowledge distillation (RML)."""
    from shieldkit import protect

    r = protect(model, data, out=out, method=method.value, recipe=recipe.value, alpha=alpha, beta=beta, tau=tau,
                negatives=negatives.value if negatives else None, confidence=confidence, ce_weight=ce_weight,
                flatness=flatness,
                use_labels=not no_labels, omega=omega, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed,
                device=device, data_dir=data_dir, download=download, resume=resume, arch=arch,
                num_classes=num_classes, trust_pickle=trust_pickle, compile=compile, loader=loader, workers=workers,
                adversarial_steps=adversarial_steps, eps=eps, attack_step_size=attack_step_size, adv_weight=adv_weight,
                image_size=image_size, resize=resize, center_crop=center_crop, augment=augment)
    f = r.figures
    out_console.print(f"test accuracy: original {f['original_test_accuracy']:.2f}%  protected "
                      f"{f['protected_test_accuracy']:.2f}%  (drop {f['accuracy_drop']:+.2f})  ->  {r.path}")


class HardenMethod(str, Enum):
    ard = "ard"
    rslad = "rslad"
    ard_goldblum = "ard-goldblum"
    at = "at"


@app.command("harden")
@handle_errors
def harden_cmd(
    teacher: Optional[Path] = typer.Option(None, "--teacher", help="robust teacher (e.g. from train --adversarial); not needed for --method at"),
    student: str = typer.Option("mobilenetv2", "--student", help="student architecture (mobilenetv2, shufflenetv2, resnet18, ...)"),
    data: str = DataOpt,
    out: Path = typer.Option(..., "--out", help="student checkpoint to write"),
    method: HardenMethod = typer.Option(HardenMethod.ard, "--method", help="ard | rslad | ard-goldblum | at"),
    levels: str = typer.Option("cat,sample,disc", "--levels", help="ARD ranking levels to use (ablation): cat,sample,disc or none"),
    lambdas: str = typer.Option("1,1,1", "--lambdas", help="ARD weights of cat,sample,disc"),
    gamma: float = typer.Option(1.0, "--gamma", help="ARD tanh sharpness on logit differences"),
    inner: str = typer.Option("kl", "--inner", help="ARD attack objective: kl (to the teacher, RSLAD style) | ce"),
    base: str = typer.Option("rslad", "--base", help="ARD base loss: rslad | ce | none"),
    goldblum_alpha: float = typer.Option(1.0, "--goldblum-alpha", help="ARD (Goldblum): weight of the KD term"),
    goldblum_tau: float = typer.Option(30.0, "--goldblum-tau", help="ARD (Goldblum): temperature"),
    eps: float = EpsOpt,
    attack_steps: int = typer.Option(10, "--attack-steps", help="PGD steps of the training attack"),
    attack_step_size: float = typer.Option(2 / 255, "--attack-step-size"),
    data_fraction: float = typer.Option(1.0, "--data-fraction", help="train on a stratified fraction (limited data)"),
    epochs: int = typer.Option(30, "--epochs", help="passes over the training split"),
    batch_size: int = typer.Option(128, "--batch-size", help="images per step"),
    lr: float = typer.Option(0.1, "--lr", help="peak SGD learning rate"),
    weight_decay: float = typer.Option(5e-4, "--weight-decay", help="L2 weight decay"),
    seed: int = typer.Option(0, "--seed", help="seeds initialisation, shuffling and augmentation"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda | cuda:N"),
    data_dir: Optional[Path] = DataDirOpt,
    download: bool = DownloadOpt,
    resume: bool = flag("--resume", help="continue from OUT.resume"),
    arch: Optional[str] = ArchOpt,
    num_classes: Optional[int] = NumClassesOpt,
    trust_pickle: bool = TrustPickleOpt,
    compile: bool = CompileOpt,
    loader: str = LoaderOpt,
    workers: int = WorkersOpt,
    image_size: Optional[int] = ImageSizeOpt,
    resize: Optional[int] = ResizeOpt,
    center_crop: Optional[int] = CenterCropOpt,
    augment: Optional[str] = AugmentOpt,
) -> None:
    """Distil a robust teacher into a lightweight, adversarially robust student (ARD and baselines)."""
    from shieldkit.hardening import harden

    r = harden(teacher, data, student=student, out=out, method=method.value, levels=levels, lambdas=lambdas,
               gamma=gamma, inner=inner, base=base, goldblum_alpha=goldblum_alpha, goldblum_tau=goldblum_tau, eps=eps,
               attack_steps=attack_steps, attack_step_size=attack_step_size, data_fraction=data_fraction,
               epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay, seed=seed, device=device,
               data_dir=data_dir, download=download, resume=resume, arch=arch, num_classes=num_classes,
               trust_pickle=trust_pickle, compile=compile, loader=loader, workers=workers, image_size=image_size,
               resize=resize, center_crop=center_crop, augment=augment)
    out_console.print(f"student test accuracy: clean {r.figures['test_accuracy']:.2f}%, PGD-20 "
                      f"{r.figures.get('pgd20_accuracy', float('nan')):.2f}% (n={r.figures.get('pgd20_n', 0)})  ->  "
                      f"{r.path}  (full evaluation: shieldkit evaluate {r.path} --data {data})")


@app.command("evaluate")
@handle_errors
def evaluate_cmd(
    model: Path = typer.Argument(..., help="checkpoint, artefact directory (scored on ONNX Runtime) or .onnx"),
    data: str = DataOpt,
    attacks: str = typer.Option("clean,fgsm,pgd20,cw", "--attacks", help="comma-separated: clean,fgsm,pgd20,cw,autoattack,square,transfer"),
    n: int = typer.Option(1000, "--n", help="test images (a fixed stratified subset)"),
    eps: float = EpsOpt,
    step_size: float = typer.Option(2 / 255, "--step-size", help="PGD/CW step size"),
    square_queries: int = typer.Option(1000, "--square-queries", help="Square attack queries per image"),
    transfer_from: Optional[Path] = typer.Option(None, "--transfer-from", help="source model for the transfer attack"),
    report: Optional[Path] = typer.Option(None, "--report", help="write the JSON report here"),
    seed: int = typer.Option(0, "--seed", help="seeds initialisation, shuffling and augmentation"),
    batch_size: int = typer.Option(250, "--batch-size"),
    providers: str = typer.Option("cpu", "--providers", help="ONNX Runtime providers for an artefact"),
    variant: Variant = typer.Option(Variant.fp32, "--variant", help="which graph of an artefact: fp32 | int8"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda | cuda:N"),
    data_dir: Optional[Path] = DataDirOpt,
    download: bool = DownloadOpt,
    trust_pickle: bool = TrustPickleOpt,
    image_size: Optional[int] = ImageSizeOpt,
    resize: Optional[int] = ResizeOpt,
    center_crop: Optional[int] = CenterCropOpt,
) -> None:
    """Clean and robust accuracy under l_inf attacks (FGSM, PGD-20, CW, AutoAttack, Square, transfer)."""
    from shieldkit.verify import evaluate, robustness_table

    r = evaluate(model, data, attacks=attacks, n=n, eps=eps, step_size=step_size, square_queries=square_queries,
                 transfer_from=transfer_from, seed=seed, batch_size=batch_size, providers=providers,
                 variant=variant.value, device=device, data_dir=data_dir, download=download, trust_pickle=trust_pickle,
                 report=report, image_size=image_size, resize=resize, center_crop=center_crop)
    out_console.print(robustness_table(r.report))
    if report is not None:
        out_console.print(f"report  ->  {report}")


@app.command("demo")
@handle_errors
def demo_cmd(out_dir: Optional[Path] = typer.Option(None, "--out-dir", help="keep models and demo.json here"),
             seed: int = typer.Option(0, "--seed", help="seeds initialisation, shuffling and augmentation"),
             smoke: bool = flag("--smoke", help="1 epoch everywhere: seconds, checks the wiring only")
             ) -> None:
    """Train -> protect -> export -> verify, original vs protected, on the bundled digits (a few minutes on CPU)."""
    from shieldkit.verify.demo import demo_table, run_demo, smoke_config

    cfg = smoke_config() if smoke else None
    out_console.print(demo_table(run_demo(cfg, out_dir=out_dir, seed=seed, log=_say)))


class InputFormat(str, Enum):
    float = "float"
    uint8 = "uint8"


class Quantize(str, Enum):
    int8 = "int8"


def _say(msg: str) -> None:
    err_console.print(f"[dim]{msg}[/]", highlight=False)


@app.command("export")
@handle_errors
def export_cmd(
    model: Path = typer.Argument(..., help="model to export: shieldkit checkpoint, or state_dict/.safetensors + --arch"),
    out: Path = typer.Option(..., "--out", help="artefact directory to write (model.onnx, model.safetensors, manifest.json)"),
    data: Optional[str] = typer.Option(None, "--data", help="images for parity (test split) and int8 calibration (train split)"),
    opset: int = typer.Option(18, "--opset", help="ONNX opset (>= 18)"),
    batch: str = typer.Option("dynamic", "--batch", help="'dynamic' or a fixed batch size"),
    input_format: InputFormat = typer.Option(InputFormat.float, "--input",
                                             help="float: NCHW [0,1]; uint8: raw NHWC bytes, /255 inside the graph"),
    quantize: Optional[Quantize] = typer.Option(None, "--quantize", help="also write model.int8.onnx"),
    input_shape: Optional[str] = typer.Option(None, "--input-shape", help="C,H,W when neither checkpoint nor --data says"),
    parity_n: int = typer.Option(1000, "--parity-n", help="images for the parity check"),
    calibration_n: int = typer.Option(512, "--calibration-n", help="training images to calibrate int8 on"),
    providers: str = typer.Option("cpu", "--providers", help="ONNX Runtime providers to check parity on, e.g. cpu,cuda"),
    max_abs_diff: float = typer.Option(1e-3, "--max-abs-diff", help="fp32 parity: max |Δlogit|"),
    min_agreement: float = typer.Option(0.999, "--min-agreement", help="fp32 parity: min top-1 agreement (0..1)"),
    overwrite: bool = flag("--overwrite", help="replace an existing --out directory"),
    data_dir: Optional[Path] = DataDirOpt,
    arch: Optional[str] = ArchOpt,
    num_classes: Optional[int] = NumClassesOpt,
    trust_pickle: bool = TrustPickleOpt,
    image_size: Optional[int] = ImageSizeOpt,
    resize: Optional[int] = ResizeOpt,
    center_crop: Optional[int] = CenterCropOpt,
) -> None:
    """Export to ONNX + safetensors with a manifest; check parity on ONNX Runtime (exit 1 if it fails)."""
    from shieldkit.exporters import export
    from shieldkit.exporters.report import parity_table

    r = export(model, out, data=data, data_dir=data_dir, input_shape=input_shape, opset=opset, batch=batch,
               input_format=input_format.value, quantize=quantize.value if quantize else None, parity_n=parity_n,
               calibration_n=calibration_n, providers=providers, max_abs_diff=max_abs_diff,
               min_agreement=min_agreement, overwrite=overwrite, arch=arch, num_classes=num_classes,
               trust_pickle=trust_pickle, image_size=image_size, resize=resize, center_crop=center_crop, log=_say)
    out_console.print(parity_table(r.manifest))
    out_console.print(f"artefact  ->  {r.directory}")


@app.command("inspect")
@handle_errors
def inspect_cmd(
    path: Path = typer.Argument(..., help="artefact directory (from `shieldkit export`) or a model file"),
    as_json: bool = flag("--json", help="print JSON instead of a table"),
    public_key: Optional[Path] = typer.Option(None, "--public-key", help="check the artefact's signature (model.sig) "
                                              "and its verify attestation with this public key (PEM)"),
    certificate_chain: Optional[list[Path]] = CertChainOpt,
    arch: Optional[str] = ArchOpt,
    num_classes: Optional[int] = NumClassesOpt,
    trust_pickle: bool = TrustPickleOpt,
) -> None:
    """Show an artefact's manifest (and whether its files are intact and its signature holds) or a checkpoint's
    metadata.

    Exit 2 when an artefact's files do not match its manifest, or its signature does not verify with
    --public-key (after printing what was found)."""
    import json

    from shieldkit.exporters import inspect_path
    from shieldkit.errors import ArtefactError, SignatureError
    from shieldkit.exporters.report import inspect_table
    from shieldkit.utils import to_jsonable

    info = inspect_path(path, arch=arch, num_classes=num_classes, trust_pickle=trust_pickle, public_key=public_key,
                        certificate_chain=certificate_chain or ())
    if as_json:
        print(json.dumps(to_jsonable(info), indent=2))
    else:
        out_console.print(inspect_table(info))
    if info.get("kind") == "artefact" and not str(info["integrity"]).startswith("ok"):
        raise ArtefactError(f"{path}: integrity {info['integrity']}")
    if info.get("kind") == "artefact" and str(info.get("signature")).startswith("FAILED"):
        raise SignatureError(f"{path}: signature {info['signature']}")


class Budget(str, Enum):
    smoke = "smoke"
    quick = "quick"
    standard = "standard"
    full = "full"


@app.command("verify")
@handle_errors
def verify_cmd(
    artefact: Path = typer.Argument(..., help="artefact directory or .onnx (attacked through ONNX Runtime), or a checkpoint (torch)"),
    data: str = typer.Option(..., "--data", help="dataset: attacker split of train, students scored on test"),
    reference: Optional[Path] = typer.Option(None, "--reference", help="the unprotected model, for relative thresholds; "
                                             "its own KD gain must clear the margin, else the verdict is INCONCLUSIVE"),
    matched_reference: Optional[Path] = typer.Option(None, "--matched-reference",
                                                     help="a clean model of the protected model's accuracy (trained "
                                                          "from scratch): a second baseline, checked like --reference"),
    policy: Optional[Path] = typer.Option(None, "--policy", help="TOML release policy (thresholds, budget, seeds, attacks)"),
    budget: Optional[Budget] = typer.Option(None, "--budget", help="smoke (seconds: wiring only) | quick (CPU, ~6 min "
                                            "per model on CIFAR-10) | standard | full (GPU)"),
    attacks: Optional[str] = typer.Option(None, "--attacks", help="comma-separated: kd,datafree,robustness"),
    seeds: Optional[str] = typer.Option(None, "--seeds", help="comma-separated student seeds, e.g. 0,1,2 (at least 2: "
                                        "one seed bounds nothing)"),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="epochs of every KD student (overrides the budget's)"),
    report: Optional[Path] = typer.Option(None, "--report", help="write the JSON report here"),
    summary: Optional[Path] = typer.Option(None, "--summary", help="write a Markdown summary here (and append it to "
                                           "$GITHUB_STEP_SUMMARY when set)"),
    junit: Optional[Path] = typer.Option(None, "--junit", help="write a JUnit XML report here: one test per check"),
    plot: Optional[Path] = typer.Option(None, "--plot", help="write a PNG of student accuracy per attacker "
                                        "(needs matplotlib)"),
    model_card: Optional[Path] = typer.Option(None, "--model-card", help="write MODEL_CARD.md here: the model, its "
                                              "accuracy, protection and robustness figures, what was not tested"),
    public_key: Optional[Path] = typer.Option(None, "--public-key", help="the artefact's signature must verify with "
                                              "this public key (PEM) before any attack runs (exit 2 if not)"),
    certificate_chain: Optional[list[Path]] = CertChainOpt,
    providers: str = typer.Option("cpu", "--providers", help="ONNX Runtime providers, e.g. cpu or cuda"),
    variant: Variant = typer.Option(Variant.fp32, "--variant", help="which graph of the artefact: fp32 | int8"),
    query_budget: Optional[int] = typer.Option(None, "--query-budget", help="max oracle queries (images) over all attacks"),
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
    min_pgd20: Optional[float] = typer.Option(None, "--min-pgd20", help="%: robust accuracy under PGD-20 (adds robustness)"),
    min_autoattack: Optional[float] = typer.Option(None, "--min-autoattack", help="%: robust accuracy under AutoAttack"),
    data_dir: Optional[Path] = DataDirOpt,
    trust_pickle: bool = TrustPickleOpt,
    image_size: Optional[int] = ImageSizeOpt,
    resize: Optional[int] = ResizeOpt,
    center_crop: Optional[int] = CenterCropOpt,
) -> None:
    """Attack the released artefact with a panel of KD attackers; exit 0 PASS, 1 FAIL, 2 bad input, 3 INCONCLUSIVE."""
    from shieldkit.errors import InputError, VerificationFailed, VerificationInconclusive
    from shieldkit.verify import verify
    from shieldkit.verify.report import failed_lines, verdict_table

    def ints(text):
        try:
            return [int(v) for v in text.split(",") if v.strip()] if text else None
        except ValueError:
            raise InputError(f"--seeds must be comma-separated integers, got {text!r}") from None

    r = verify(artefact, data, reference=reference, matched_reference=matched_reference, policy=policy,
               budget=budget.value if budget else None, attacks=attacks.split(",") if attacks else None,
               seeds=ints(seeds), epochs=epochs, providers=providers,
               variant=variant.value, query_budget=query_budget, data_dir=data_dir, trust_pickle=trust_pickle,
               thresholds={"max_kd_gain": max_kd_gain, "max_datafree_accuracy": max_datafree_accuracy,
                           "max_datafree_ratio": max_datafree_ratio, "max_accuracy_drop": max_accuracy_drop,
                           "max_recorded_accuracy_drop": max_recorded_accuracy_drop,
                           "min_accuracy": min_accuracy, "min_parity_agreement": min_parity_agreement,
                           "min_pgd20": min_pgd20, "min_autoattack": min_autoattack},
               report=report, summary=summary, junit=junit, plot=plot, model_card=model_card, image_size=image_size,
               resize=resize, center_crop=center_crop, public_key=public_key,
               certificate_chain=certificate_chain or (), log=_say)
    out_console.print(verdict_table(r.report))
    for path in (report, summary, junit, plot, model_card):
        if path is not None:
            out_console.print(f"{path.name}  ->  {path}")
    if r.verdict == "FAIL":
        raise VerificationFailed("verification FAILED: " + "; ".join(failed_lines(r.report)))
    if r.verdict == "INCONCLUSIVE":
        raise VerificationInconclusive("verification INCONCLUSIVE: " + "; ".join(r.report["inconclusive"]))


@app.command("sign")
@handle_errors
def sign_cmd(
    artefact: Path = typer.Argument(..., help="artefact directory (from `shieldkit export`)"),
    key: Path = typer.Option(..., "--key", help="private key (PEM, elliptic curve: P-256/P-384/P-521)"),
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
    import os

    from shieldkit.exporters.signing import sign_artefact

    password = None
    if password_env is not None:
        if password_env not in os.environ:
            raise InputError(f"--password-env {password_env}: that environment variable is not set")
        password = os.environ[password_env]
    written = sign_artefact(artefact, key, report=report, password=password, certificate=certificate,
                            certificate_chain=certificate_chain or ())
    out_console.print(f"signature  ->  {written['signature']}")
    if "attestation" in written:
        out_console.print(f"attestation ({written['verdict']})  ->  {written['attestation']}")
    for name in written.get("removed", []):
        out_console.print(f"removed the earlier attestation {name} (pass --report to attest again)")


@app.command("models")
def models_cmd() -> None:
    """List the architecture names (torchvision models also as tv:<name>)."""
    from shieldkit import list_models

    out_console.print("\n".join(list_models()) + "\ntv:<any torchvision classification model>")


def main() -> None:
    from shieldkit.distributed import is_main_process
    from shieldkit.utils import configure_threads

    configure_threads()
    if not is_main_process():  # torchrun: one rank speaks
        out_console.quiet = True
    try:
        app(prog_name="shieldkit")
    finally:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():  # launched by torchrun
            dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
