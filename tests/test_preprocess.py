"""Preprocessing (--image-size, --resize, --center-crop) and the random-resized-crop augmentation."""

import numpy as np
import pytest
import torch

from shieldkit.data.arrays import Augment, augment_batch, random_resized_crop
from shieldkit.data.preprocess import Preprocess
from shieldkit.errors import InputError


def test_shapes_of_each_setting():
    assert Preprocess(image_size=64).shape_after_resize(48, 80) == (64, 64)
    assert Preprocess(resize=56).shape_after_resize(48, 80) == (56, 93)  # shorter side 56, aspect kept
    assert Preprocess(resize=56, center_crop=48).crop_box(56, 93) == (4, 22, 48, 48)
    assert Preprocess(resize=56).crop_box(56, 93) == (0, 18, 56, 56)  # --resize alone: its centred square
    assert Preprocess(center_crop=20).crop_box(32, 32) == (6, 6, 20, 20)
    x = torch.randint(0, 256, (3, 48, 80, 3), dtype=torch.uint8)
    assert Preprocess(resize=56, center_crop=48).apply_arrays(x).shape == (3, 48, 48, 3)
    assert Preprocess().apply_arrays(x) is x and not Preprocess().active


def test_center_crop_of_arrays_is_exact():
    x = torch.arange(2 * 8 * 8 * 1, dtype=torch.int64).reshape(2, 8, 8, 1).to(torch.uint8)
    assert torch.equal(Preprocess(center_crop=4).apply_arrays(x), x[:, 2:6, 2:6])


def test_files_and_arrays_agree():
    """A PIL image and the same pixels as an array, through the same preprocessing: equal up to resampling
    differences (PIL vs torch bilinear), a few grey levels on smooth images."""
    from PIL import Image

    yy, xx = np.mgrid[0:48, 0:80]
    img = np.stack([xx * 3, yy * 5, (xx + yy) * 2], axis=-1).clip(0, 255).astype(np.uint8)
    pp = Preprocess(resize=56, center_crop=48)
    a = np.asarray(pp.apply_pil(Image.fromarray(img)), dtype=np.int64)
    b = pp.apply_arrays(torch.from_numpy(img)[None]).numpy()[0].astype(np.int64)
    assert a.shape == b.shape == (48, 48, 3) and np.abs(a - b).mean() < 3


@pytest.mark.parametrize("kw, words", [({"image_size": 0}, "--image-size"), ({"resize": 20, "center_crop": 30},
                                       "larger than"), ({"image_size": 20, "resize": 30}, "does not combine")])
def test_bad_settings_are_refused(kw, words):
    with pytest.raises(InputError, match=words):
        Preprocess(**kw)
    with pytest.raises(InputError, match="does not fit"):
        Preprocess(center_crop=40).apply_arrays(torch.zeros(1, 32, 32, 3, dtype=torch.uint8))


def test_random_resized_crop():
    """Full-scale boxes of the image's own aspect ratio are the identity; otherwise shapes, dtype and the
    seed's determinism hold, and the crops differ per image."""
    x = torch.randint(0, 256, (16, 32, 40, 3), dtype=torch.uint8)
    same = random_resized_crop(x, (1.0, 1.0), torch.Generator().manual_seed(0), ratio=(40 / 32, 40 / 32))
    assert torch.equal(same, x)
    a = augment_batch(x, Augment(kind="rrc", flip=False), torch.Generator().manual_seed(1))
    b = augment_batch(x, Augment(kind="rrc", flip=False), torch.Generator().manual_seed(1))
    assert a.shape == x.shape and a.dtype == torch.uint8 and torch.equal(a, b) and not torch.equal(a, x)
    flat = torch.full((4, 32, 32, 3), 77, dtype=torch.uint8)  # any crop of a flat image is the same flat image
    assert torch.equal(augment_batch(flat, Augment(kind="rrc"), torch.Generator().manual_seed(2)), flat)
    with pytest.raises(ValueError, match="--augment"):
        Augment(kind="mixup")
