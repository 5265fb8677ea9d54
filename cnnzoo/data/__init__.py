"""Datasets and the papers' transforms: ``load_data("digits", in_chans=1, input_size=32)`` returns a
:class:`DataBundle` with train/val/test datasets, class names and the training set's per-channel mean/std."""

from __future__ import annotations

from ..registries import SOURCES, source_forms
from .sources import (
    DataBundle,
    FileImages,
    ImageDataset,
    MemoryImages,
    RawSplits,
    build_data,
    collate_skip,
    load_data,
    load_source,
    read_idx,
    stratified_split,
)
from .spec import DataSpec, parse_data_spec
from .transforms import (
    AUGMENTS,
    CROPS,
    FitTo,
    PCALighting,
    TestViews,
    googlenet_144,
    ten_crop,
    train_transform,
)

__all__ = [
    "AUGMENTS",
    "CROPS",
    "SOURCES",
    "DataBundle",
    "DataSpec",
    "FileImages",
    "FitTo",
    "ImageDataset",
    "MemoryImages",
    "PCALighting",
    "RawSplits",
    "TestViews",
    "build_data",
    "collate_skip",
    "googlenet_144",
    "load_data",
    "load_source",
    "parse_data_spec",
    "read_idx",
    "source_forms",
    "stratified_split",
    "ten_crop",
    "train_transform",
]
