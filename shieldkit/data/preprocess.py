"""How images are brought to the model's input size, once, as they are loaded.

Three settings, as ``--image-size``, ``--resize`` and ``--center-crop`` on the command line:

- ``image_size N``: stretch every image to N×N (aspect not kept; cheap, and what small datasets want);
- ``resize S``: scale so that the shorter side is S (aspect kept), then cut the centred square of
  ``center_crop`` C pixels (default S) — ImageNet-style evaluation preprocessing;
- ``center_crop C`` alone: cut the centred C×C square of each image as it is.

The settings travel with a dataset (``Dataset.preprocess``), into every run's settings and every
artefact's manifest, so that later commands load data the way the model was trained on it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from ..errors import InputError


@dataclass(frozen=True)
class Preprocess:
    image_size: int | None = None
    resize: int | None = None
    center_crop: int | None = None

    def __post_init__(self) -> None:
        for name in ("image_size", "resize", "center_crop"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise InputError(f"--{name.replace('_', '-')} must be a positive number of pixels, got {v!r}")
        if self.image_size is not None and (self.resize is not None or self.center_crop is not None):
            raise InputError("--image-size stretches to a square; it does not combine with --resize/--center-crop")
        if self.resize is not None and self.center_crop is not None and self.center_crop > self.resize:
            raise InputError(f"--center-crop {self.center_crop} is larger than --resize {self.resize}")

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.image_size, self.resize, self.center_crop))

    @property
    def square(self) -> int | None:
        """The side of the square images this produces (``None``: images keep their own size)."""
        if self.image_size is not None:
            return self.image_size
        if self.center_crop is not None:
            return self.center_crop
        return self.resize

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, d: dict | None) -> "Preprocess":
        d = d or {}
        return cls(**{k: d[k] for k in ("image_size", "resize", "center_crop") if d.get(k) is not None})

    # ---------------------------------------------------------------------------------------- applying
    def shape_after_resize(self, h: int, w: int) -> tuple[int, int]:
        if self.image_size is not None:
            return self.image_size, self.image_size
        if self.resize is not None:
            s = self.resize / min(h, w)
            return max(self.resize, round(h * s)), max(self.resize, round(w * s))
        return h, w

    def crop_box(self, h: int, w: int) -> tuple[int, int, int, int]:
        """(top, left, height, width) of the centred crop in an image of h×w (after resizing)."""
        side = self.center_crop if self.center_crop is not None else (self.resize if self.resize is not None else None)
        if side is None or self.image_size is not None:
            return 0, 0, h, w
        if side > h or side > w:
            raise InputError(f"--center-crop {side} does not fit in {h}x{w} images; add --resize {side} (or larger)")
        return (h - side) // 2, (w - side) // 2, side, side

    def apply_pil(self, im):
        """A PIL image, preprocessed (bilinear resampling)."""
        from PIL import Image

        w, h = im.size
        nh, nw = self.shape_after_resize(h, w)
        if (nh, nw) != (h, w):
            im = im.resize((nw, nh), Image.BILINEAR)
        top, left, ch, cw = self.crop_box(nh, nw)
        if (ch, cw) != (nh, nw):
            im = im.crop((left, top, left + cw, top + ch))
        return im

    def apply_arrays(self, x: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
        """uint8 NHWC images, preprocessed (bilinear, antialiased when shrinking), in chunks."""
        _, h, w, c = x.shape
        nh, nw = self.shape_after_resize(h, w)
        top, left, ch, cw = self.crop_box(nh, nw)
        if (nh, nw) == (h, w) and (ch, cw) == (h, w):
            return x
        out = torch.empty((len(x), ch, cw, c), dtype=torch.uint8)
        for start in range(0, len(x), chunk):
            part = x[start:start + chunk].permute(0, 3, 1, 2).float()
            if (nh, nw) != (h, w):
                part = torch.nn.functional.interpolate(part, size=(nh, nw), mode="bilinear", align_corners=False,
                                                       antialias=nh < h or nw < w)
            part = part[:, :, top:top + ch, left:left + cw]
            out[start:start + chunk] = part.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
        return out
