"""Analysis rows and dumps without a model: both embedding spaces, the optional contrastive column, and
reading version-1 dumps."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from instanceformer.core.engine import load_analysis, merge_analysis_payloads, write_analysis
from instanceformer.core.engine.analysis import (
    AnalysisBuffer,
    FrameAnalysis,
    VideoAnalysis,
    analysis_payloads,
)
from instanceformer.core.errors import FormatError
from instanceformer.core.formats.analysis_dumps import ANALYSIS_FILES

D_MODEL, EMBEDDING_DIM, NUM_CLASSES = 8, 4, 3
LAYERS, HEADS, LEVELS, POINTS = 2, 2, 2, 2


def _frame(index: int, queries: list[int], contrastive: bool) -> FrameAnalysis:
    generator = torch.Generator().manual_seed(index)
    num = len(queries)
    return FrameAnalysis(
        frame_index=index,
        queries=torch.tensor(queries),
        decoder_embeddings=torch.randn(num, D_MODEL, generator=generator),
        reference_points=torch.rand(num, LAYERS, 2, generator=generator),
        sampling_locations=torch.rand(num, LAYERS, HEADS, LEVELS, POINTS, 2, generator=generator),
        attention_weights=torch.rand(num, LAYERS, HEADS, LEVELS, POINTS, generator=generator),
        probabilities=torch.rand(num, NUM_CLASSES, generator=generator),
        valid_ratios=torch.ones(2),
        contrastive_embeddings=torch.randn(num, EMBEDDING_DIM, generator=generator) if contrastive else None,
    )


def _video(video_id: int, contrastive: bool) -> VideoAnalysis:
    buffer = AnalysisBuffer(contrastive)
    frames = [
        _frame(0, [4, 7, 1], contrastive),
        _frame(1, [7, 2], contrastive),
        _frame(2, [4, 7], contrastive),
    ]
    for frame in frames:
        buffer.add(frame)
    video = buffer.select(video_id, [(7, 0, 10, 0.9), (4, 2, 30, 0.5)])
    assert video.track_ranks.tolist() == [0, 0, 0, 1, 1] and video.frame_indices.tolist() == [0, 1, 2, 0, 2]
    assert torch.equal(video.decoder_embeddings[1], frames[1].decoder_embeddings[0])
    if contrastive:
        assert frames[1].contrastive_embeddings is not None and video.contrastive_embeddings is not None
        assert torch.equal(video.contrastive_embeddings[1], frames[1].contrastive_embeddings[0])
    return video


@pytest.mark.parametrize("contrastive", [True, False])
def test_rows_keep_both_spaces_only_with_a_contrastive_head(contrastive: bool) -> None:
    video = _video(3, contrastive)
    assert video.decoder_embeddings.shape == (5, D_MODEL)
    if contrastive:
        assert video.contrastive_embeddings is not None
        assert video.contrastive_embeddings.shape == (5, EMBEDDING_DIM)
    else:
        assert video.contrastive_embeddings is None
    payload = analysis_payloads([video], [0])["embeddings"]
    assert payload["format_version"] == 2
    assert payload["decoder_embeddings"].shape == (5, D_MODEL)
    assert ("contrastive_embeddings" in payload) == contrastive


def test_a_frame_that_disagrees_with_the_buffer_is_refused() -> None:
    with pytest.raises(ValueError, match="expected rows with contrastive_embeddings"):
        AnalysisBuffer(True).add(_frame(0, [1], contrastive=False))
    with pytest.raises(ValueError, match="expected rows without contrastive_embeddings"):
        AnalysisBuffer(False).add(_frame(0, [1], contrastive=True))


def test_videos_with_and_without_contrastive_embeddings_do_not_share_a_dump() -> None:
    with pytest.raises(ValueError, match="cannot share one dump"):
        analysis_payloads([_video(1, True), _video(2, False)], [0, 2])
    with_head = analysis_payloads([_video(1, True)], [0])["embeddings"]
    without_head = analysis_payloads([_video(1, False)], [0])["embeddings"]
    maps = [torch.arange(2), torch.arange(2) + 2]
    with pytest.raises(ValueError, match="disagree on their optional columns"):
        merge_analysis_payloads([with_head, without_head], maps)
    merged = merge_analysis_payloads([with_head, with_head], maps)
    assert merged["contrastive_embeddings"].shape == (10, EMBEDDING_DIM)


def test_version_1_dumps_load_in_the_current_layout(tmp_path: Path) -> None:
    write_analysis(tmp_path, [_video(1, True)], [0])
    current = load_analysis(tmp_path / ANALYSIS_FILES["embeddings"])
    old = {name: value for name, value in current.items() if not name.endswith("_embeddings")}
    old.update(format_version=1, embeddings=current["decoder_embeddings"])
    torch.save(old, tmp_path / "old.pt")
    upgraded = load_analysis(tmp_path / "old.pt")
    assert upgraded["format_version"] == 2 and "embeddings" not in upgraded
    assert "contrastive_embeddings" not in upgraded
    assert torch.equal(upgraded["decoder_embeddings"], current["decoder_embeddings"])
    old["format_version"] = 3
    torch.save(old, tmp_path / "future.pt")
    with pytest.raises(FormatError, match="field 'format_version': expected 1 or 2"):
        load_analysis(tmp_path / "future.pt")
