"""Reading analysis dumps: real dumps load, version 1 too; a wrong version, kind, key or shape is a one-line
error."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from instanceformer.analysis.dumps import load_dump
from instanceformer.core.errors import FormatError

from .conftest import InferenceOutput


def test_the_three_real_dumps_load_with_the_same_rows(inference: InferenceOutput) -> None:
    embeddings = load_dump(inference.embeddings, "embeddings")
    references = load_dump(inference.reference_points, "reference_points")
    sampling = load_dump(inference.sampling_locations, "sampling_locations")
    assert embeddings.num_rows == references.num_rows == sampling.num_rows > 0
    for name in ("video_ids", "track_ids", "frame_indices"):
        assert torch.equal(embeddings[name], references[name])
        assert torch.equal(embeddings[name], sampling[name])
    assert embeddings.video_ids() == [1, 2]
    assert embeddings["decoder_embeddings"].shape[1] == 64  # tiny preset d_model
    assert embeddings["contrastive_embeddings"].shape[1] == 64  # tiny preset embedding_dim
    assert references["reference_points"].shape[1:] == (3, 2)  # 3 decoder layers, (x, y)
    assert sampling["sampling_locations"].shape[1:] == (3, 4, 3, 4, 2)
    one_track = embeddings.for_video(2).for_track(embeddings.for_video(2).track_ids()[0])
    assert one_track["frame_indices"].tolist() == [0, 1, 2, 3]


def _write(payload: object, path: Path) -> Path:
    torch.save(payload, path)
    return path


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda payload: payload.update(format_version=3), "format_version"),
        (lambda payload: payload.update(kind="reference_points"), "kind"),
        (lambda payload: payload.pop("track_ids"), "track_ids"),
        (
            lambda payload: payload.update(decoder_embeddings=payload["decoder_embeddings"][:-1]),
            "decoder_embeddings",
        ),
        (lambda payload: payload.pop("decoder_embeddings"), "decoder_embeddings"),
        (
            lambda payload: payload.update(contrastive_embeddings=payload["contrastive_embeddings"][:, 0]),
            "contrastive_embeddings",
        ),
        (
            lambda payload: payload.update(valid_ratios=torch.zeros(len(payload["video_ids"]), 3)),
            "valid_ratios",
        ),
        (lambda payload: payload.update(scores=[0.5] * len(payload["video_ids"])), "scores"),
        (
            lambda payload: payload["decoder_embeddings"].__setitem__((0, 0), float("nan")),
            "decoder_embeddings",
        ),
    ],
)
def test_a_malformed_dump_names_the_file_and_the_field(
    inference: InferenceOutput, tmp_path: Path, change, field: str
) -> None:
    payload = torch.load(inference.embeddings, weights_only=True)
    change(payload)
    path = _write(payload, tmp_path / "embeddings.pt")
    with pytest.raises(FormatError) as raised:
        load_dump(path, "embeddings")
    message = str(raised.value)
    assert "\n" not in message and str(path) in message and f"'{field}'" in message


def test_a_version_1_dump_reads_as_decoder_embeddings_only(
    inference: InferenceOutput, tmp_path: Path
) -> None:
    current = torch.load(inference.embeddings, weights_only=True)
    old = {name: value for name, value in current.items() if not name.endswith("_embeddings")}
    old.update(format_version=1, embeddings=current["decoder_embeddings"])
    dump = load_dump(_write(old, tmp_path / "embeddings.pt"), "embeddings")
    assert "contrastive_embeddings" not in dump.columns and "embeddings" not in dump.columns
    assert torch.equal(dump["decoder_embeddings"], current["decoder_embeddings"])
    assert torch.equal(dump["track_ids"], current["track_ids"])
    references = torch.load(inference.reference_points, weights_only=True)
    references["format_version"] = 1
    loaded = load_dump(_write(references, tmp_path / "reference_points.pt"), "reference_points")
    assert torch.equal(loaded["reference_points"], references["reference_points"])


def test_an_unknown_version_names_the_readable_ones(inference: InferenceOutput, tmp_path: Path) -> None:
    payload = torch.load(inference.embeddings, weights_only=True)
    payload["format_version"] = 7
    with pytest.raises(FormatError, match=r"field 'format_version': expected 1 or 2, got 7"):
        load_dump(_write(payload, tmp_path / "embeddings.pt"), "embeddings")


def test_a_file_that_is_not_a_dump_is_a_one_line_error(tmp_path: Path) -> None:
    text = tmp_path / "notes.pt"
    text.write_text("not a torch file")
    with pytest.raises(FormatError, match="loadable with torch.load"):
        load_dump(text, "embeddings")
    with pytest.raises(FormatError, match="expected a dict"):
        load_dump(_write([1, 2], tmp_path / "list.pt"), "embeddings")
    with pytest.raises(FormatError, match="no such file"):
        load_dump(tmp_path / "missing.pt", "embeddings")


def test_selecting_a_missing_video_or_track_lists_what_exists(inference: InferenceOutput) -> None:
    dump = load_dump(inference.embeddings, "embeddings")
    with pytest.raises(Exception, match=r"no rows for video 99 \(videos in the dump: 1, 2\)"):
        dump.for_video(99)
    with pytest.raises(Exception, match="no rows for track 999"):
        dump.for_track(999)
