"""Periodic validation during training: the online engine over the held-out split, then the evaluator.

The held-out split is ``data.val_annotations`` (default: ``instances_val_sub.json`` of ``ifm-prep
split``; ``instances_valid.json`` for the synthetic set) with its frames under ``data.val_frames``. Rank 0
validates; the other processes wait.
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import nn

from instanceformer.core.config import Config
from instanceformer.core.engine import OnlineEngine
from instanceformer.core.engine.frames import read_frame
from instanceformer.core.errors import UserError
from instanceformer.core.formats import TrackResult, load_annotations
from instanceformer.core.formats.class_index import ClassIndex
from instanceformer.core.formats.data_paths import resolve_data_paths
from instanceformer.core.metrics import evaluate_results, prepare_ground_truth
from instanceformer.core.model import InstanceFormer


class HeldOutValidation:
    """Callable ``(model, step, rank) -> metrics`` that scores ``model`` on the held-out split.

    The ground truth is read and prepared once, when the object is built.
    """

    def __init__(self, config: Config, environ: Mapping[str, str] | None = None):
        paths = resolve_data_paths(config.data, environ)
        if not paths.val_annotations.is_file():
            raise UserError(
                f"{paths.val_annotations}: no such file (config key 'data.val_annotations', needed by "
                "train.validate_every; make one with `ifm-prep split`)"
            )
        self.config = config
        self.source = str(paths.val_annotations)
        self.frames = paths.val_frames
        self.dataset = load_annotations(paths.val_annotations)
        self.ground_truth = prepare_ground_truth(self.dataset)
        self.category_ids = ClassIndex.from_categories(self.dataset.categories).category_ids

    def __call__(self, model: nn.Module, step: int, rank: int) -> dict[str, float]:
        """The evaluator's summary (AP, AP50, ... as fractions) of ``model``; empty on ranks other than 0."""
        if rank != 0:
            return {}
        assert isinstance(model, InstanceFormer)  # the trainer passes its unwrapped model
        engine = OnlineEngine(
            model, self.config.infer, self.category_ids, size_divisibility=self.config.data.size_divisibility
        )
        results: list[TrackResult] = []
        for video in self.dataset.videos:
            stream = engine.start(video.id)
            for name in video.file_names:
                stream.push(read_frame(self.frames / name, (video.height, video.width)))
            results.extend(stream.finish().tracks)
        return evaluate_results(results, self.ground_truth, source=self.source)
