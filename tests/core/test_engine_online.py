"""The online engine end to end: synthetic videos through a tiny checkpoint, constant retained memory."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from instanceformer.core.config import load_config
from instanceformer.core.engine import OnlineEngine, load_run_model
from instanceformer.core.engine.checkpoints import checkpoint_payload
from instanceformer.core.engine.frames import read_frame
from instanceformer.core.errors import UserError
from instanceformer.core.formats import check_results_against, decode_segmentation, load_annotations
from instanceformer.core.formats.class_index import ClassIndex
from instanceformer.core.model import build_model
from instanceformer.dataprep.synth import SynthSpec, generate_synthetic_dataset
from tests.support.tiny_run import make_tiny_run

OVERRIDES = ["infer.min_size=64", "infer.max_size=96", "infer.max_tracks=3"]


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_run(tmp_path_factory.mktemp("run") / "tiny", OVERRIDES, seed=1)


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synth")
    generate_synthetic_dataset(
        root,
        SynthSpec(
            train_videos=1, valid_videos=2, num_frames=5, height=40, width=56, num_categories=6, seed=9
        ),
    )
    return root


def test_engine_on_synthetic_videos_gives_valid_results(run_folder: Path, synth_root: Path) -> None:
    loaded = load_run_model(run_folder, device="cpu")
    assert not loaded.model.training and loaded.checkpoint.name == "last.pt"
    dataset = load_annotations(synth_root / "annotations" / "instances_valid.json")
    class_index = ClassIndex.from_categories(dataset.categories)
    engine = OnlineEngine(loaded.model, loaded.config.infer, class_index.category_ids, collect_analysis=True)
    tracks = []
    for video in dataset.videos:
        stream = engine.start(video.id)
        for file_name in video.file_names:
            report = stream.push(read_frame(synth_root / "valid" / "JPEGImages" / file_name))
            assert report.masks.shape[1:] == (video.height, video.width)
            assert report.queries.shape[0] == engine.num_candidates == 6
        result = stream.finish()
        assert len(result.tracks) == 3
        assert result.analysis.num_rows == sum(
            segmentation is not None for track in result.tracks for segmentation in track.segmentations
        )
        analysis = result.analysis
        assert analysis is not None and analysis.contrastive_embeddings is not None
        assert analysis.decoder_embeddings.shape == (analysis.num_rows, 64)  # d_model
        assert analysis.contrastive_embeddings.shape == (analysis.num_rows, 64)  # embedding_dim
        tracks.extend(result.tracks)
    assert check_results_against(tracks, dataset) == []
    assert {track.video_id for track in tracks} == {video.id for video in dataset.videos}
    for track in tracks:
        video = dataset.video(track.video_id)
        assert len(track.segmentations) == video.length
        assert track.category_id in class_index
        for segmentation in track.segmentations:
            if segmentation is not None:
                assert decode_segmentation(segmentation, video.height, video.width).shape == (
                    video.height,
                    video.width,
                )


def test_results_do_not_depend_on_what_ran_before(run_folder: Path) -> None:
    loaded = load_run_model(run_folder, device="cpu")
    engine = OnlineEngine(loaded.model, loaded.config.infer, list(range(1, 7)))
    frames = torch.randint(
        0, 255, (3, 3, 32, 40), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )

    def run(video_id: int):
        stream = engine.start(video_id)
        for frame in frames:
            stream.push(frame)
        return stream.finish()

    first, again = run(1), run(1)
    assert [track.to_json() for track in first.tracks] == [track.to_json() for track in again.tracks]


def test_retained_memory_does_not_grow_with_frames() -> None:
    config = load_config("tiny-cpu", [*OVERRIDES, "infer.min_size=32", "infer.max_size=48"])
    torch.manual_seed(2)
    engine = OnlineEngine(build_model(config.model), config.infer, list(range(1, 7)), num_candidates=4)
    stream = engine.start(1)
    frame = torch.randint(0, 255, (3, 24, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(3))
    measured = {}
    for index in range(40):
        stream.push(torch.roll(frame, shifts=index, dims=-1))
        if index + 1 in (10, 40):
            measured[index + 1] = (
                stream.retained_tensor_bytes(),
                stream.state.num_elements(),
                stream.num_encoded_masks(),
            )
    assert measured[10][:2] == measured[40][:2]
    assert measured[10][2] == 4 * 10 and measured[40][2] == 4 * 40
    result = stream.finish()
    assert stream.num_encoded_masks() == 0
    assert all(len(track.segmentations) == 40 for track in result.tracks)


def test_engine_rejects_wrong_category_count_and_size_changes() -> None:
    config = load_config("tiny-cpu", OVERRIDES)
    model = build_model(config.model)
    with pytest.raises(ValueError, match="expected 6 category ids"):
        OnlineEngine(model, config.infer, [1, 2, 3])
    stream = OnlineEngine(model, config.infer, list(range(1, 7))).start(1)
    stream.push(torch.zeros(3, 16, 16, dtype=torch.uint8))
    with pytest.raises(ValueError, match="the video's first frame"):
        stream.push(torch.zeros(3, 16, 20, dtype=torch.uint8))


def test_checkpoint_of_another_architecture_is_refused(run_folder: Path, tmp_path: Path) -> None:
    other = load_config("tiny-cpu", [*OVERRIDES, "model.transformer.num_queries=7"])
    bad = tmp_path / "bad.pt"
    torch.save(
        checkpoint_payload(
            model=build_model(other.model).state_dict(),
            optimizer=None,
            scheduler=None,
            step=0,
            epoch=0,
            config=other,
        ),
        bad,
    )
    with pytest.raises(UserError, match="weights do not fit"):
        load_run_model(run_folder, bad, device="cpu")
