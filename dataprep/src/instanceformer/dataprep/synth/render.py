"""Render one frame of a scene: exact binary masks first, then the image drawn from those masks.

Each object's full mask is its shape at the frame's pose, clipped to the frame (the border cuts an object
off but does not occlude it). Its visible mask removes every pixel covered by an occluder band or by an
object nearer to the camera. The image paints the background, then every object back to front through
its full mask, then the occluder bands, so the pixels that show an object are exactly its visible mask.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from instanceformer.dataprep.synth.scene import SceneObject, VideoScene
from instanceformer.dataprep.synth.shapes import SHAPE_EXTENT, shape_mask

JPEG_QUALITY = 90
SENSOR_NOISE_STD = 0.012  # in units of the full intensity range


@dataclass(frozen=True)
class Footprint:
    """Where an object covers a frame: a window of the frame and the shape mask inside it."""

    rows: slice
    columns: slice
    mask: np.ndarray  # (window_height, window_width) bool
    local_u: np.ndarray  # (num_covered,) local coordinates (radius units) of the covered pixels
    local_v: np.ndarray  # (num_covered,)


@dataclass(frozen=True)
class RenderedFrame:
    """A rendered frame and the masks of the scene's objects (in the scene's object order)."""

    image: np.ndarray  # (height, width, 3) uint8 RGB
    full_masks: tuple[np.ndarray, ...]  # per object (height, width) bool, the unoccluded in-frame shape
    visible_masks: tuple[np.ndarray, ...]  # per object (height, width) bool, full mask minus nearer objects


def object_footprint(
    scene_object: SceneObject, frame_index: int, height: int, width: int
) -> Footprint | None:
    """The footprint of ``scene_object`` in frame ``frame_index``; None when inactive or out of view."""
    trajectory = scene_object.trajectory
    if not trajectory.active[frame_index]:
        return None
    centre_x, centre_y = trajectory.centres[frame_index]
    radius = trajectory.radii[frame_index]
    reach = SHAPE_EXTENT * radius + 1.0
    row_start, row_stop = max(0, int(np.floor(centre_y - reach))), min(height, int(np.ceil(centre_y + reach)))
    column_start = max(0, int(np.floor(centre_x - reach)))
    column_stop = min(width, int(np.ceil(centre_x + reach)))
    if row_start >= row_stop or column_start >= column_stop:
        return None
    offset_y = (np.arange(row_start, row_stop) + 0.5 - centre_y)[:, None]  # (window_height, 1) pixels
    offset_x = (np.arange(column_start, column_stop) + 0.5 - centre_x)[None, :]  # (1, window_width) pixels
    cosine, sine = np.cos(trajectory.angles[frame_index]), np.sin(trajectory.angles[frame_index])
    local_u = (offset_x * cosine + offset_y * sine) / radius  # (window_height, window_width)
    local_v = (offset_y * cosine - offset_x * sine) / radius
    mask = shape_mask(scene_object.kind, local_u, local_v)
    if not mask.any():
        return None
    return Footprint(
        rows=slice(row_start, row_stop),
        columns=slice(column_start, column_stop),
        mask=mask,
        local_u=local_u[mask],
        local_v=local_v[mask],
    )


def render_frame(scene: VideoScene, frame_index: int) -> RenderedFrame:
    """Render frame ``frame_index`` of ``scene``: the image and every object's full and visible mask."""
    height, width = scene.height, scene.width
    footprints = [object_footprint(obj, frame_index, height, width) for obj in scene.objects]
    full_masks = []
    for footprint in footprints:
        full_mask = np.zeros((height, width), dtype=bool)
        if footprint is not None:
            full_mask[footprint.rows, footprint.columns] = footprint.mask
        full_masks.append(full_mask)

    nearest_first = sorted(range(len(scene.objects)), key=lambda index: -scene.objects[index].depth)
    covered = np.zeros((height, width), dtype=bool)
    for band in scene.occluders:
        covered |= band.mask
    visible_masks: list[np.ndarray] = [np.zeros((height, width), dtype=bool)] * len(scene.objects)
    for index in nearest_first:
        visible_masks[index] = full_masks[index] & ~covered
        covered |= full_masks[index]

    image = scene.background.frame(frame_index)  # (height, width, 3) float32
    for index in reversed(nearest_first):
        footprint = footprints[index]
        if footprint is None:
            continue
        colours = scene.objects[index].appearance.colours(footprint.local_u, footprint.local_v)
        image[footprint.rows, footprint.columns][footprint.mask] = colours
    for band in scene.occluders:
        band.paint(image)
    noise_rng = np.random.default_rng([scene.noise_seed, frame_index])
    image = image * scene.brightness[frame_index] + noise_rng.normal(0.0, SENSOR_NOISE_STD, image.shape)
    pixels = np.rint(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
    return RenderedFrame(image=pixels, full_masks=tuple(full_masks), visible_masks=tuple(visible_masks))


def encode_jpeg(image: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    """JPEG bytes of an RGB image ``(height, width, 3)`` uint8 (deterministic for equal input)."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
