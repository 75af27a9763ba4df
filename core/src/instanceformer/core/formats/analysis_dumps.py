"""The schema of the analysis dumps (``embeddings.pt``, ``reference_points.pt``, ``sampling_locations.pt``).

The names and the version live here, in the torch-free layer, so that tools that only inspect dump files
need not load the model code; :mod:`instanceformer.core.engine.analysis` writes and reads them. See
``docs/formats.md`` for the columns.
"""

from __future__ import annotations

ANALYSIS_FORMAT_VERSION = 1
ANALYSIS_FILES = {
    "embeddings": "embeddings.pt",
    "reference_points": "reference_points.pt",
    "sampling_locations": "sampling_locations.pt",
}
ROW_COLUMNS = (
    "video_ids",
    "track_ids",
    "frame_indices",
    "category_ids",
    "scores",
    "frame_scores",
    "valid_ratios",
)
PAYLOAD_COLUMNS = {
    "embeddings": ("embeddings",),
    "reference_points": ("reference_points",),
    "sampling_locations": ("sampling_locations", "attention_weights"),
}
TENSOR_COLUMNS = ("embeddings", "reference_points", "sampling_locations", "attention_weights")
