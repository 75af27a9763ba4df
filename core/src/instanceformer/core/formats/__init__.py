"""Dataset and results formats: YouTube-VIS / OVIS annotation files, server results, masks, categories.

See ``docs/formats.md`` for the file formats as the toolkit reads and writes them.
"""

from instanceformer.core.formats.annotation_checks import validate_dataset
from instanceformer.core.formats.annotations import load_annotations, parse_annotations, write_annotations
from instanceformer.core.formats.categories import (
    CATEGORY_TABLES,
    COCO_CATEGORIES,
    COCO_TO_VIDEO,
    OVIS_CATEGORIES,
    YTVIS_2019_CATEGORIES,
    YTVIS_2021_CATEGORIES,
    category_table,
)
from instanceformer.core.formats.results import (
    RESULTS_MEMBER,
    TrackResult,
    check_results_against,
    load_results,
    parse_results,
    read_results_payload,
    results_to_json,
    write_results_json,
    write_results_zip,
)
from instanceformer.core.formats.rle import (
    compressed_runs,
    concatenate_uncompressed_counts,
    decode_segmentation,
    decode_segmentations,
    encode_mask,
    encode_mask_uncompressed,
    encode_masks,
    parse_compressed_counts,
    segmentation_area,
    segmentation_bbox,
    to_compressed,
    validate_segmentation,
)
from instanceformer.core.formats.video_dataset import OCCLUSION_LABELS, Category, Track, Video, VideoDataset

__all__ = [
    "CATEGORY_TABLES",
    "COCO_CATEGORIES",
    "COCO_TO_VIDEO",
    "OCCLUSION_LABELS",
    "OVIS_CATEGORIES",
    "RESULTS_MEMBER",
    "YTVIS_2019_CATEGORIES",
    "YTVIS_2021_CATEGORIES",
    "Category",
    "Track",
    "TrackResult",
    "Video",
    "VideoDataset",
    "category_table",
    "check_results_against",
    "compressed_runs",
    "concatenate_uncompressed_counts",
    "decode_segmentation",
    "decode_segmentations",
    "encode_mask",
    "encode_mask_uncompressed",
    "encode_masks",
    "load_annotations",
    "load_results",
    "parse_annotations",
    "parse_compressed_counts",
    "parse_results",
    "read_results_payload",
    "results_to_json",
    "segmentation_area",
    "segmentation_bbox",
    "to_compressed",
    "validate_dataset",
    "validate_segmentation",
    "write_annotations",
    "write_results_json",
    "write_results_zip",
]
