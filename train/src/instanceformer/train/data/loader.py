"""Building the training datasets and the DataLoader from a configuration.

Decoding and augmentation run in DataLoader workers; collation too. A sample depends only on
``(train.seed, epoch, index)``, so the batches of an epoch are the same with any number of workers,
and the union over processes is the same with any number of processes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from torch.utils.data import DataLoader

from instanceformer.core.config import Config
from instanceformer.core.errors import ConfigError, FormatError, UserError
from instanceformer.core.formats import COCO_CATEGORIES, COCO_TO_VIDEO, load_annotations
from instanceformer.core.formats.class_index import ClassIndex
from instanceformer.core.formats.coco import CocoImageDataset, load_coco_annotations
from instanceformer.core.formats.data_paths import DataPaths, resolve_data_paths
from instanceformer.core.model.batch import ClipBatch
from instanceformer.train.data.augment import ClipAugmentation
from instanceformer.train.data.clip_dataset import EpochClipDataset
from instanceformer.train.data.coco_clips import CocoPseudoVideoDataset
from instanceformer.train.data.collate import ClipCollator
from instanceformer.train.data.joint import JointClipDataset
from instanceformer.train.data.sampler import ClipSampler
from instanceformer.train.data.video_clips import VideoClipDataset


def _require_file(path: Path, key: str) -> Path:
    """``path`` if it is a file, else a UserError naming the configuration key that points to it."""
    if not path.is_file():
        raise UserError(
            f"{path}: no such file (config key '{key}'; set it, or prepare the default layout with "
            "`make prep`)"
        )
    return path


def _coco_category_map(
    coco: CocoImageDataset, class_index: ClassIndex, dataset: str, source: str
) -> Mapping[int, int] | None:
    """How the COCO file's category ids map to the training categories (None: they are the same ids)."""
    names = {category.id: category.name for category in coco.categories}
    if names == dict(zip(class_index.category_ids, class_index.names, strict=True)):
        return None
    coco_names = {category.id: category.name for category in COCO_CATEGORIES}
    if dataset in COCO_TO_VIDEO and all(coco_names.get(cid) == name for cid, name in names.items()):
        return COCO_TO_VIDEO[dataset]
    raise FormatError(
        source,
        None,
        "categories",
        f"expected the COCO 2017 categories or the {dataset} categories (the output of `ifm-prep coco-keep`)",
    )


def build_train_dataset(config: Config, paths: DataPaths | None = None) -> EpochClipDataset:
    """The training dataset of ``config``: video clips, COCO pseudo-videos, or both mixed.

    Checks that ``model.num_classes`` equals the number of training categories.
    """
    data = config.data
    paths = paths or resolve_data_paths(data)
    augmentation = ClipAugmentation.from_config(data)
    seed = config.train.seed
    annotations_path = _require_file(paths.train_annotations, "data.train_annotations")
    if data.dataset == "coco":
        coco = load_coco_annotations(annotations_path)
        class_index = ClassIndex.from_categories(coco.categories)
        class_index.require_num_classes(config.model.num_classes, str(annotations_path))
        return CocoPseudoVideoDataset(
            coco,
            paths.train_frames,
            num_frames=data.num_frames,
            augmentation=augmentation,
            seed=seed,
            class_index=class_index,
            max_instances=data.coco_max_instances,
        )
    video_annotations = load_annotations(annotations_path)
    class_index = ClassIndex.from_categories(video_annotations.categories)
    class_index.require_num_classes(config.model.num_classes, str(annotations_path))
    video = VideoClipDataset(
        video_annotations,
        paths.train_frames,
        num_frames=data.num_frames,
        frame_range=data.frame_range,
        augmentation=augmentation,
        seed=seed,
        class_index=class_index,
        source=str(annotations_path),
    )
    if not data.coco_joint:
        return video
    coco_path = _require_file(paths.coco_annotations, "data.coco_annotations")
    coco = load_coco_annotations(coco_path)
    coco_clips = CocoPseudoVideoDataset(
        coco,
        paths.coco_frames,
        num_frames=data.num_frames,
        augmentation=augmentation,
        seed=seed,
        class_index=class_index,
        category_map=_coco_category_map(coco, class_index, data.dataset, str(coco_path)),
        max_instances=data.coco_max_instances,
    )
    return JointClipDataset(video, coco_clips, data.coco_ratio, seed)


class TrainLoader:
    """The training DataLoader with its sampler; call :meth:`set_epoch` before each epoch."""

    def __init__(self, dataset: EpochClipDataset, sampler: ClipSampler, loader: DataLoader):
        self.dataset = dataset
        self.sampler = sampler
        self.loader = loader

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose permutation and samples the next iteration gives."""
        self.sampler.set_epoch(epoch)
        self.dataset.set_epoch(epoch)

    def __iter__(self) -> Iterator[ClipBatch]:
        return iter(self.loader)

    def __len__(self) -> int:
        return len(self.loader)


def build_train_loader(
    config: Config,
    *,
    rank: int = 0,
    world_size: int = 1,
    dataset: EpochClipDataset | None = None,
    num_workers: int | None = None,
    batch_size: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> TrainLoader:
    """The training loader of process ``rank`` of ``world_size``.

    Args:
        config: the resolved configuration (``data`` and ``train.seed`` / ``train.batch_size``).
        rank, world_size: this process and the number of processes.
        dataset: a dataset built before (default: :func:`build_train_dataset`).
        num_workers: DataLoader worker processes (default ``data.num_workers``); workers persist over
            epochs.
        batch_size: clips per batch and process (default ``train.batch_size``).
        environ: environment for the data root (default ``os.environ``).

    Returns:
        A :class:`TrainLoader` yielding :class:`ClipBatch` es; incomplete last batches are dropped.
    """
    if dataset is None:
        dataset = build_train_dataset(config, resolve_data_paths(config.data, environ))
    workers = config.data.num_workers if num_workers is None else num_workers
    batch = config.train.batch_size if batch_size is None else batch_size
    sampler = ClipSampler(len(dataset), seed=config.train.seed, rank=rank, world_size=world_size)
    if len(sampler) < batch:
        raise ConfigError(
            f"config key 'train.batch_size': expected at most {len(sampler)} (the clips per process and "
            f"epoch), got {batch}"
        )
    loader = DataLoader(
        dataset,
        batch_size=batch,
        sampler=sampler,
        num_workers=workers,
        collate_fn=ClipCollator(config.data.size_divisibility),
        drop_last=True,
        persistent_workers=workers > 0,
    )
    return TrainLoader(dataset, sampler, loader)
