"""Datasets as in-memory uint8 arrays, with batched on-device augmentation."""

from .arrays import Augment, Dataset, ImageArray, augment_batch, iterate_batches, stratified_split, to_float
from .sources import DATASET_NAMES, default_data_dir, load_dataset

__all__ = ["Augment", "Dataset", "ImageArray", "augment_batch", "iterate_batches", "stratified_split", "to_float",
           "DATASET_NAMES", "default_data_dir", "load_dataset"]
