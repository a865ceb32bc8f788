"""The settings groups every training command shares, each declared once with its defaults, help and bounds.

- :class:`RunSettings`: how a training run runs (schedule, seed, device, arithmetic, loader; resume, progress);
- :class:`DataSettings`: where the data comes from and how it is prepared (preprocessing, augmentation, the
  part of the training split used);
- :class:`ModelSource`: how a model file that is not a shieldkit checkpoint is read (a bare state_dict's
  architecture and normalisation; whether a full pickle may be loaded).

The ℓ∞ attack budget is the fourth group, :class:`shieldkit.attacks.AttackSettings`. The library's entry points
take these objects (``train(arch, data, run=RunSettings(epochs=5))``, or a mapping: ``run={"epochs": 5}``); the
command line derives its options from their fields (cli/main.py), and a run records them with ``asdict``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .data.arrays import AUGMENTS
from .data.preprocess import Preprocess
from .data.loader import LOADERS
from .engine import SCHEDULES, TrainConfig
from .errors import InputError
from .precision import PRECISIONS
from .settings import check_settings, setting


# train's and harden's schedule where RunSettings leaves it open (protect's is its method's: methods/options.py)
TRAIN_EPOCHS, TRAIN_LR = 30, 0.1


@dataclass(frozen=True)
class RunSettings:
    """How a training run runs. ``epochs``/``lr`` default to the command's (or the method's) own."""

    epochs: int | None = setting(None, f"passes over the training split (default: train/harden {TRAIN_EPOCHS}; "
                                 f"protect: its method's, 5 rml / 30 nasty)", minimum=1)
    lr: float | None = setting(None, f"peak SGD learning rate, Nesterov momentum 0.9 (default: train/harden "
                               f"{TRAIN_LR}; protect: its method's, 0.01 rml / 0.1 nasty)", above=0)
    batch_size: int = setting(128, "images per step (the global batch under torchrun)", minimum=1)
    weight_decay: float = setting(5e-4, "L2 weight decay on weights (not biases/BN)", minimum=0)
    schedule: str = setting("cosine", "learning-rate schedule", choices=SCHEDULES)
    seed: int = setting(0, "seeds initialisation, shuffling and augmentation")
    device: str = setting("auto", "auto | cpu | cuda | cuda:N")
    precision: str = setting("auto", "training arithmetic: auto (bf16 where the hardware has it natively: AMX / "
                             "AVX-512-BF16 CPUs, bf16 GPUs; else fp32) | fp32 | bf16; the one used is recorded "
                             "(benchmarks/results/throughput.json)", choices=PRECISIONS)
    compile: bool = setting(False, "torch.compile the training forward (see benchmarks/throughput.py)")
    loader: str = setting("device", "device (in-memory, on-device batches) | dataloader (workers)", choices=LOADERS)
    workers: int = setting(2, "DataLoader workers with --loader dataloader", minimum=0)
    n: int = setting(1000, "test images a robust run's PGD-20 figure is measured on (0: none)", minimum=0)
    resume: bool = setting(False, "continue from OUT.resume")
    progress: bool = setting(True, "show progress bars")

    def __post_init__(self) -> None:
        check_settings(self)

    def config(self, epochs: int, lr: float, images: int | None = None) -> TrainConfig:
        """The engine's :class:`~shieldkit.engine.TrainConfig`, with the command's ``epochs``/``lr`` where these
        settings leave them open; the batch is capped at ``images`` (a small training split)."""
        batch = self.batch_size if images is None else min(self.batch_size, images)
        return TrainConfig(epochs=self.epochs if self.epochs is not None else epochs,
                           lr=self.lr if self.lr is not None else lr, batch_size=batch,
                           weight_decay=self.weight_decay, schedule=self.schedule, seed=self.seed,
                           device=self.device, precision=self.precision, compile=self.compile, loader=self.loader,
                           workers=self.workers)


# what a run's record leaves out: how it was shown and whether it continued, not what it computed
NOT_RECORDED = ("resume", "progress")


@dataclass(frozen=True)
class DataSettings:
    """Where the data comes from and how it is prepared."""

    data_dir: str | Path | None = setting(None, "where named datasets live (default $SHIELDKIT_DATA_DIR or ./data)")
    download: bool = setting(False, "download CIFAR-10/100 if missing (off by default)")
    image_size: int | None = setting(None, "stretch every image to N×N pixels (folders as they are decoded, arrays "
                                     "bilinearly); default: what the model was trained with (recorded)", minimum=1)
    resize: int | None = setting(None, "scale the shorter side to S pixels (aspect kept), then a centred crop",
                                 minimum=1)
    center_crop: int | None = setting(None, "the centred C×C crop (default S with --resize)", minimum=1)
    augment: str | None = setting(None, "training augmentation: crop (pad-and-crop, CIFAR style) | rrc "
                                  "(random-resized-crop + flip, ImageNet style) | none; default: the dataset's "
                                  "(crop)", choices=AUGMENTS)
    data_fraction: float = setting(1.0, "train on this stratified part of the training split (0 < f <= 1)",
                                   above=0)

    def __post_init__(self) -> None:
        check_settings(self)
        if self.data_fraction > 1.0:
            raise InputError(f"--data-fraction must be in (0, 1], got {self.data_fraction}")
        Preprocess(self.image_size, self.resize, self.center_crop)  # a bad combination as one line


@dataclass(frozen=True)
class ModelSource:
    """How a model file that is not a shieldkit checkpoint is read."""

    arch: str | None = setting(None, "architecture of a bare state_dict: a name (`shieldkit models`), tv:NAME, "
                               "timm:NAME or package.module:factory (importing it runs that module's code)")
    num_classes: int | None = setting(None, "number of classes of a bare state_dict", minimum=1)
    trust_pickle: bool = setting(False, "allow loading a fully pickled model (runs code!)")
    mean: Sequence[float] | None = setting(None, "per-channel mean a bare state_dict was trained with (default: the "
                                           "data's)")
    std: Sequence[float] | None = setting(None, "per-channel std a bare state_dict was trained with (default: the "
                                          "data's)")

    def __post_init__(self) -> None:
        check_settings(self)
