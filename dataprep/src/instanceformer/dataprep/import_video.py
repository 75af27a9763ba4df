"""``ifm-prep import-video``: a video file or a folder of frames as an unannotated YouTube-VIS dataset.

Layout written under the output folder::

    JPEGImages/<name>/<frame:05d>.jpg      (the frame's index in the source, as YouTube-VIS names frames)
    annotations/instances.json             {"videos": [...], "annotations": [], "categories": [...]}

Importing into a folder that already holds such a dataset adds the video; replacing a video of the same
name takes ``force``, and so does a folder that holds anything else. The frames and the new annotation
file are written in a staging folder and moved in at the end, so a failed or interrupted import leaves
the folder as it was.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from instanceformer.core.errors import UserError
from instanceformer.core.formats import (
    CATEGORY_TABLES,
    Category,
    Video,
    VideoDataset,
    load_annotations,
    validate_dataset,
    write_annotations,
)
from instanceformer.core.io import check_output_folder, staged_output_folder, write_bytes_atomic
from instanceformer.core.runtime.frame_size import format_frame_size
from instanceformer.core.runtime.image_folder import image_files, read_rgb_image
from instanceformer.core.runtime.video import VideoReader

JPEG_QUALITY = 95
ANNOTATION_FILE = Path("annotations") / "instances.json"
FRAME_FOLDER = "JPEGImages"
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+$")

FrameStream = Generator[tuple[int, np.ndarray], None, None]
"""``(source frame index, [height, width, 3] uint8 RGB)`` pairs, decoded as they are consumed."""

ProgressCallback = Callable[[int, int | None], None]
"""Called with ``(frames written, expected total or None when unknown)``."""


@dataclass(frozen=True)
class ImportSummary:
    """What ``import_video`` wrote."""

    annotation_file: Path
    video_id: int
    name: str
    num_frames: int
    height: int
    width: int
    source_frames: int | None  # frames of the source (a video's from its metadata; None if unknown)


def _folder_frames(folder: Path, every: int) -> tuple[FrameStream, int]:
    """Every ``every``-th image file of a folder in natural name order, decoded only when reached.

    Returns an iterator of ``(index, [height, width, 3] uint8)`` and the number of image files.
    """
    files = image_files(folder)

    def frames() -> FrameStream:
        for index in range(0, len(files), every):
            yield index, read_rgb_image(files[index])

    return frames(), len(files)


def _video_frames(path: Path, every: int) -> tuple[FrameStream, int | None]:
    """Every ``every``-th frame of a video file, and the number of frames its metadata announces (None
    when it does not).

    Returns an iterator of ``(index, [height, width, 3] uint8)``; the video is decoded as it is consumed.
    """
    video = VideoReader(path)

    def frames() -> FrameStream:
        try:
            for index, frame in enumerate(video.frames()):
                if index % every == 0:
                    yield index, frame
        finally:
            video.close()

    return frames(), video.estimated_frames


def _existing_dataset(annotation_file: Path) -> VideoDataset | None:
    return load_annotations(annotation_file) if annotation_file.is_file() else None


def import_video(
    source: str | Path,
    out_dir: str | Path,
    *,
    every: int = 1,
    max_frames: int | None = None,
    name: str | None = None,
    categories: str | None = None,
    progress: ProgressCallback | None = None,
    force: bool = False,
) -> ImportSummary:
    """Import a video file (mp4, avi, ... via ffmpeg) or a folder of frames as one unannotated video.

    Args:
        source: the video file or frame folder.
        out_dir: the dataset folder (created if missing).
        every: keep every ``every``-th source frame (1 keeps all).
        max_frames: stop after this many written frames (None: no limit).
        name: the video's folder name (default: the source's name without suffix).
        categories: ``ytvis19``, ``ytvis21``, ``ytvis22`` or ``ovis`` to give the file that category
            table; None keeps the existing file's categories (none for a new file).
        progress: optional callback, see :data:`ProgressCallback`.
        force: replace a video of the same name, and import into a folder that holds other files.

    Returns:
        An :class:`ImportSummary`.
    """
    source, out_dir = Path(source), Path(out_dir)
    if every < 1:
        raise UserError(f"--every: expected a positive integer, got {every}")
    if max_frames is not None and max_frames < 1:
        raise UserError(f"--max-frames: expected a positive integer, got {max_frames}")
    if categories is not None and categories not in CATEGORY_TABLES:
        raise UserError(f"--categories: expected one of {', '.join(CATEGORY_TABLES)}, got {categories!r}")
    name = name or source.stem
    if not _NAME_PATTERN.match(name):
        raise UserError(f"--name: expected letters, digits, '_', '-' or '.', got {name!r}")
    if not source.exists():
        raise FileNotFoundError(2, "no such video file or frame folder", str(source))
    accepted = (FRAME_FOLDER, ANNOTATION_FILE.parts[0])
    check_output_folder(out_dir, force=force, accepted=accepted)
    annotation_file = out_dir / ANNOTATION_FILE
    existing = _existing_dataset(annotation_file)
    if not force:
        _refuse_replacing(existing, annotation_file, out_dir / FRAME_FOLDER / name, name)
    frames, source_frames = _folder_frames(source, every) if source.is_dir() else _video_frames(source, every)
    total = None if source_frames is None else -(-source_frames // every)
    if total is not None and max_frames is not None:
        total = min(total, max_frames)
    own_names = (f"{FRAME_FOLDER}/{name}", ANNOTATION_FILE.as_posix())
    with staged_output_folder(out_dir, own_names=own_names, force=force, accepted=accepted) as staging:
        file_names, size = _write_frames(
            frames, source, name, staging / FRAME_FOLDER, max_frames, total, progress
        )
        dataset, video_id = _with_video(existing, name, file_names, size, categories)
        validate_dataset(dataset, str(annotation_file))
        write_annotations(dataset, staging / ANNOTATION_FILE)
    return ImportSummary(annotation_file, video_id, name, len(file_names), size[0], size[1], source_frames)


def _refuse_replacing(
    existing: VideoDataset | None, annotation_file: Path, frame_folder: Path, name: str
) -> None:
    """Raise :class:`UserError` when the dataset already has a video ``name`` (or its frame folder)."""
    if existing is not None and any(_video_name(video) == name for video in existing.videos):
        raise UserError(
            f"{annotation_file}: already holds a video named {name!r}; add --force to replace it, or choose "
            f"another --name"
        )
    if frame_folder.exists():
        raise UserError(
            f"{frame_folder}: already exists; add --force to replace it, or choose another --name"
        )


def _video_name(video: Video) -> str:
    """The folder name of a video: the first part of its frame names."""
    return video.file_names[0].split("/")[0]


def _write_frames(
    frames: FrameStream,
    source: Path,
    name: str,
    frame_folder: Path,
    max_frames: int | None,
    total: int | None,
    progress: ProgressCallback | None,
) -> tuple[list[str], tuple[int, int]]:
    """Write the frames as JPEG files under ``frame_folder/name``; their names and ``(height, width)``."""
    file_names: list[str] = []
    size: tuple[int, int] | None = None
    for index, frame in frames:
        if size is None:
            size = (frame.shape[0], frame.shape[1])
        elif frame.shape[:2] != size:
            raise UserError(
                f"{source}: frame {index}: expected {format_frame_size(*size)} pixels like the first frame, "
                f"got {format_frame_size(frame.shape[0], frame.shape[1])}"
            )
        file_name = f"{name}/{index:05d}.jpg"
        buffer = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(frame, dtype=np.uint8)).save(
            buffer, "JPEG", quality=JPEG_QUALITY
        )
        write_bytes_atomic(frame_folder / file_name, buffer.getvalue())
        file_names.append(file_name)
        if progress is not None:
            progress(len(file_names), total)
        if max_frames is not None and len(file_names) >= max_frames:
            frames.close()
            break
    if size is None:
        raise UserError(f"{source}: expected at least one frame, found none")
    return file_names, size


def _with_video(
    existing: VideoDataset | None,
    name: str,
    file_names: list[str],
    size: tuple[int, int],
    categories: str | None,
) -> tuple[VideoDataset, int]:
    """The dataset with the video ``name`` added or replaced (same id; the other videos' tracks kept)."""
    others = [] if existing is None else [v for v in existing.videos if _video_name(v) != name]
    replaced = [] if existing is None else [v for v in existing.videos if _video_name(v) == name]
    video_id = replaced[0].id if replaced else max((video.id for video in others), default=0) + 1
    video = Video(
        id=video_id, width=size[1], height=size[0], length=len(file_names), file_names=tuple(file_names)
    )
    if categories is not None:
        category_list: tuple[Category, ...] = CATEGORY_TABLES[categories]
    else:
        category_list = () if existing is None else existing.categories
    videos = sorted([*others, video], key=lambda item: item.id)
    kept_ids = {other.id for other in others}
    tracks = (
        () if existing is None else tuple(t for t in existing.annotations or () if t.video_id in kept_ids)
    )
    extra = {} if existing is None else dict(existing.extra)
    dataset = VideoDataset(videos=tuple(videos), annotations=tracks, categories=category_list, extra=extra)
    return dataset, video_id
