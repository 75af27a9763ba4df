"""The schema of the analysis dumps (``embeddings.pt``, ``reference_points.pt``, ``sampling_locations.pt``).

The names and the version live here, in the torch-free layer, so that tools that only inspect dump files
need not load the model code; :mod:`instanceformer.core.engine.analysis` writes and reads them. See
``docs/formats.md`` for the columns.

Version 2 stores two embedding spaces in ``embeddings.pt``: ``decoder_embeddings`` always and
``contrastive_embeddings`` (the embedding head's output, the space of the temporal contrastive loss)
when the model has a contrastive head. Version 1 stored only the decoder embedding, as ``embeddings``;
:func:`upgrade_analysis_payload` reads it as a version-2 payload without contrastive embeddings.
"""

from __future__ import annotations

ANALYSIS_FORMAT_VERSION = 2
READABLE_FORMAT_VERSIONS = (1, 2)
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
# The embedding column of each space, in the order the tools prefer them.
EMBEDDING_COLUMNS = {
    "contrastive": "contrastive_embeddings",
    "decoder": "decoder_embeddings",
}
PAYLOAD_COLUMNS = {
    "embeddings": ("decoder_embeddings",),
    "reference_points": ("reference_points",),
    "sampling_locations": ("sampling_locations", "attention_weights"),
}
# Payload columns present only when the model produced them (a contrastive head).
OPTIONAL_PAYLOAD_COLUMNS = {
    "embeddings": ("contrastive_embeddings",),
    "reference_points": (),
    "sampling_locations": (),
}
TENSOR_COLUMNS = ("decoder_embeddings", "reference_points", "sampling_locations", "attention_weights")
OPTIONAL_TENSOR_COLUMNS = ("contrastive_embeddings",)
_VERSION_1_RENAMES = {"embeddings": {"embeddings": "decoder_embeddings"}}


def upgrade_analysis_payload(payload: dict) -> dict:
    """A loaded dump in the current layout: version 1 is renamed to version 2, others are returned as is.

    Version 1's ``embeddings`` column (the final decoder embedding) becomes ``decoder_embeddings``; the
    other kinds have the same columns in both versions. The caller checks the version afterwards.
    """
    if payload.get("format_version") != 1:
        return payload
    renames = _VERSION_1_RENAMES.get(str(payload.get("kind")), {})
    upgraded = {renames.get(name, name): value for name, value in payload.items()}
    upgraded["format_version"] = ANALYSIS_FORMAT_VERSION
    return upgraded
