"""Checking frame files against the sizes an annotation file declares, reading image headers only."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from instanceformer.core.errors import FormatError


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


def check_frame(frame: FrameRef) -> FrameProblem | None:
    """Check that ``frame.path`` is an image of the declared size; None when it is.

    Only the header is read (PIL opens lazily), so a check costs a file open, not a decode.
    """
    if not frame.path.is_file():
        return FrameProblem(frame, "expected this frame file, it does not exist")
    try:
        with Image.open(frame.path) as image:
            width, height = image.size
    except (UnidentifiedImageError, OSError) as problem:
        return FrameProblem(frame, f"expected a readable image ({' '.join(str(problem).split())})")
    if (height, width) != (frame.height, frame.width):
        return FrameProblem(
            frame,
            f"expected a frame of {frame.height}x{frame.width} pixels (height x width, as declared), "
            f"got {height}x{width}",
        )
    return None
