"""Training clips from YouTube-VIS / OVIS videos (and the synthetic dataset, which has their format)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from instanceformer.core.engine.frames import read_frame
from instanceformer.core.errors import FormatError
from instanceformer.core.formats import Video, VideoDataset, decode_segmentation, to_compressed
from instanceformer.core.formats.class_index import ClassIndex
from instanceformer.train.data.augment import ClipAugmentation
from instanceformer.train.data.clip_dataset import EpochClipDataset
from instanceformer.train.data.clip_sampling import sample_clip_frames
from instanceformer.train.data.randomness import VIDEO_STREAM, SampleRandom
from instanceformer.train.data.sample import ClipSample, targets_from_masks


@dataclass(frozen=True)
class _TrackRecord:
    """One track as training needs it; masks held as compressed RLE strings (``None`` where absent)."""

    track_id: int
    label: int
    iscrowd: bool
    counts: tuple[str | None, ...]


@dataclass(frozen=True)
class _VideoRecord:
    id: int
    height: int
    width: int
    file_names: tuple[str, ...]
    tracks: tuple[_TrackRecord, ...]


class VideoClipDataset(EpochClipDataset):
    """Clips of ``num_frames`` frames around every frame of every video (one sample per frame).

    Sample ``index`` anchors on one frame of one video (videos in file order, frames in order); the
    clip's frames follow :func:`~instanceformer.train.data.clip_sampling.sample_clip_frames`, then the
    clip is augmented and its targets keep the instances visible in at least one frame.

    Args:
        annotations: a loaded annotation file with ground truth.
        frames_root: the folder the ``file_names`` are relative to.
        num_frames: clip length; frame_range: the neighbours' largest distance to the anchor.
        augmentation: the clip augmentation.
        seed: the run's seed.
        class_index: contiguous class indices (default: the file's categories).
        source: the annotation file's name, for messages.
    """

    def __init__(
        self,
        annotations: VideoDataset,
        frames_root: str | Path,
        *,
        num_frames: int,
        frame_range: int,
        augmentation: ClipAugmentation,
        seed: int,
        class_index: ClassIndex | None = None,
        source: str = "annotations",
    ):
        super().__init__(seed)
        if not annotations.has_ground_truth:
            raise FormatError(
                source, None, "annotations", "expected ground truth for training, the file has none"
            )
        self.frames_root = Path(frames_root)
        self.num_frames = num_frames
        self.frame_range = frame_range
        self.augmentation = augmentation
        self.class_index = class_index or ClassIndex.from_categories(annotations.categories)
        self.source = source
        self._videos = tuple(self._video_record(annotations, video) for video in annotations.videos)
        anchors = [
            (position, frame)
            for position, video in enumerate(self._videos)
            for frame in range(len(video.file_names))
        ]
        self._anchors = np.asarray(anchors, dtype=np.int64).reshape(-1, 2)  # [num_samples, 2]

    def _video_record(self, annotations: VideoDataset, video: Video) -> _VideoRecord:
        """The training record of one video, its masks re-encoded as compressed RLE."""
        tracks = []
        for track in annotations.tracks_of(video.id):
            if track.category_id not in self.class_index:
                raise FormatError(
                    self.source,
                    f"annotations (id {track.id})",
                    "category_id",
                    f"expected one of the training categories {list(self.class_index.category_ids)}, "
                    f"got {track.category_id}",
                )
            counts = tuple(
                None
                if segmentation is None
                else to_compressed(segmentation, video.height, video.width)["counts"]
                for segmentation in track.segmentations
            )
            tracks.append(
                _TrackRecord(track.id, self.class_index.index(track.category_id), bool(track.iscrowd), counts)
            )
        return _VideoRecord(video.id, video.height, video.width, tuple(video.file_names), tuple(tracks))

    def __len__(self) -> int:
        return int(self._anchors.shape[0])

    @property
    def num_videos(self) -> int:
        """The number of videos."""
        return len(self._videos)

    def sample(self, epoch: int, index: int) -> ClipSample:
        """The clip ``index`` of ``epoch``: ``[num_frames, 3, H, W]`` uint8 frames and their targets."""
        random = SampleRandom(self.seed, epoch, index, VIDEO_STREAM)
        position, anchor = (int(value) for value in self._anchors[index])
        video = self._videos[position]
        frame_indices = sample_clip_frames(
            len(video.file_names), anchor, self.num_frames, self.frame_range, random
        )
        decoded = {
            frame: read_frame(self.frames_root / video.file_names[frame], (video.height, video.width))
            for frame in sorted(set(frame_indices))
        }
        images = torch.stack([decoded[frame] for frame in frame_indices])  # [num_frames, 3, H, W]
        masks = self._masks(video, frame_indices)  # [num_frames, num_instances, H, W]
        images, masks = self.augmentation(images, masks, random)
        targets = targets_from_masks(
            masks,
            labels=torch.tensor([track.label for track in video.tracks], dtype=torch.int64),
            track_ids=torch.tensor([track.track_id for track in video.tracks], dtype=torch.int64),
            iscrowd=torch.tensor([track.iscrowd for track in video.tracks], dtype=torch.bool),
            video_id=video.id,
            frame_indices=frame_indices,
        )
        return ClipSample(images=images, targets=targets)

    @staticmethod
    def _masks(video: _VideoRecord, frame_indices: list[int]) -> torch.Tensor:
        """The tracks' masks in the clip's frames: ``[num_frames, num_instances, height, width]`` uint8."""
        masks = np.zeros((len(frame_indices), len(video.tracks), video.height, video.width), dtype=np.uint8)
        for instance, track in enumerate(video.tracks):
            for slot, frame in enumerate(frame_indices):
                counts = track.counts[frame]
                if counts is not None:
                    rle = {"size": [video.height, video.width], "counts": counts}
                    masks[slot, instance] = decode_segmentation(rle, video.height, video.width)
        return torch.from_numpy(masks)
