"""Checking frame files against the sizes an annotation file declares: headers only, or full decodes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageFile, UnidentifiedImageError

from instanceformer.core.errors import FormatError
from instanceformer.core.runtime.frame_size import format_frame_size


@dataclass(frozen=True)
class FrameRef:
    """One frame to check: its file, where the annotation file names it, and the declared size."""

    path: Path
    record: str  # e.g. "videos[3] (id 4)"
    field: str  # e.g. "file_names[7]"
    height: int
    width: int


@dataclass(frozen=True)
class FrameProblem:
    """A frame that is missing, unreadable or of the wrong size."""

    frame: FrameRef
    expected: str

    @property
    def message(self) -> str:
        """One line naming the file, the record and the field."""
        return str(FormatError(self.frame.path, self.frame.record, self.frame.field, self.expected))

    def to_json(self) -> dict[str, str]:
        """The problem as a manifest entry."""
        return {
            "file": str(self.frame.path),
            "record": self.frame.record,
            "field": self.frame.field,
            "problem": self.expected,
        }


def check_frame(frame: FrameRef, decode: bool = False) -> FrameProblem | None:
    """Check that ``frame.path`` is an image of the declared size; None when it is.

    Without ``decode`` only the header is read (PIL opens lazily), so a check costs a file open; with
    ``decode`` every pixel is decoded, which finds truncated and corrupt files (truncated images are
    never accepted, whatever ``PIL.ImageFile.LOAD_TRUNCATED_IMAGES`` says elsewhere).
    """
    if not frame.path.is_file():
        return FrameProblem(frame, "expected this frame file, it does not exist")
    load_truncated = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with Image.open(frame.path) as image:
            width, height = image.size
            if decode:
                image.load()
    except (UnidentifiedImageError, OSError, SyntaxError) as problem:
        return FrameProblem(frame, f"expected a readable image ({' '.join(str(problem).split())})")
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = load_truncated
    if (height, width) != (frame.height, frame.width):
        return FrameProblem(
            frame,
            f"expected a frame of {format_frame_size(frame.height, frame.width)} pixels (width x height, "
            f"as declared), got {format_frame_size(height, width)}",
        )
    return None
