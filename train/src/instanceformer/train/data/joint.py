"""Joint training: video clips mixed with COCO pseudo-video clips at a set ratio."""

from __future__ import annotations

from instanceformer.train.data.clip_dataset import EpochClipDataset
from instanceformer.train.data.randomness import JOINT_STREAM, SampleRandom
from instanceformer.train.data.sample import ClipSample


class JointClipDataset(EpochClipDataset):
    """All clips of a video dataset plus COCO clips, so that a fraction ``coco_ratio`` of an epoch is COCO.

    Indices ``[0, len(video))`` are the video clips; the following ``round(len(video) * r / (1 - r))``
    indices are COCO clips, taken from a per-epoch permutation of the COCO dataset (cycled when the
    epoch needs more COCO clips than there are images). ``coco_ratio`` 1 means COCO clips only (one per
    image), 0 video clips only.
    """

    def __init__(self, video: EpochClipDataset, coco: EpochClipDataset, coco_ratio: float, seed: int):
        super().__init__(seed)
        if not 0.0 <= coco_ratio <= 1.0:
            raise ValueError(f"expected a coco_ratio in [0, 1], got {coco_ratio}")
        if len(coco) == 0 and coco_ratio > 0.0:
            raise ValueError("expected a COCO dataset with at least one image for joint training")
        self.video = video
        self.coco = coco
        self.coco_ratio = coco_ratio
        if coco_ratio >= 1.0:
            self.num_video_samples, self.num_coco_samples = 0, len(coco)
        else:
            self.num_video_samples = len(video)
            self.num_coco_samples = round(len(video) * coco_ratio / (1.0 - coco_ratio))
        self._coco_order: tuple[int, list[int]] | None = None

    def __len__(self) -> int:
        return self.num_video_samples + self.num_coco_samples

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        self.video.set_epoch(epoch)
        self.coco.set_epoch(epoch)

    def coco_index(self, epoch: int, index: int) -> int:
        """The COCO image behind joint sample ``index`` (``index >= num_video_samples``) of ``epoch``."""
        if self._coco_order is None or self._coco_order[0] != epoch:
            order = SampleRandom(self.seed, epoch, 0, JOINT_STREAM).permutation(len(self.coco))
            self._coco_order = (epoch, order)
        order = self._coco_order[1]
        return order[(index - self.num_video_samples) % len(order)]

    def sample(self, epoch: int, index: int) -> ClipSample:
        """A video clip for the first indices, a COCO pseudo-video clip for the rest."""
        if index < self.num_video_samples:
            return self.video.sample(epoch, index)
        return self.coco.sample(epoch, self.coco_index(epoch, index))
