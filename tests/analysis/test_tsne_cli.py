"""``ifm-analysis tsne``: the figure, the separation numbers of both embedding spaces and its sidecar JSON,
the space choice, version-1 dumps, and bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from instanceformer.analysis.cli import app
from instanceformer.analysis.dumps import load_dump
from instanceformer.analysis.separation import track_separation
from instanceformer.core.cli import run_app

from .conftest import InferenceOutput
from .helpers import decoded_png
from .test_separation import clustered_embeddings


def write_embeddings_dump(
    path: Path,
    embeddings: torch.Tensor,
    track_ids: torch.Tensor,
    contrastive: torch.Tensor | None = None,
    *,
    version: int = 2,
) -> Path:
    """An ``embeddings.pt`` in the documented layout (docs/formats.md): one video, frames per track.

    ``embeddings`` ``[N, d]`` are the decoder embeddings, ``contrastive`` ``[N, e]`` the optional
    contrastive ones; ``version=1`` writes the old layout (decoder embeddings as ``embeddings``).
    """
    num_rows = len(track_ids)
    frame_indices = torch.cat(
        [torch.arange(int(count)) for count in torch.unique(track_ids, return_counts=True)[1]]
    )
    payload = {
        "format_version": version,
        "kind": "embeddings",
        "video_ids": torch.ones(num_rows, dtype=torch.long),
        "track_ids": track_ids.long(),
        "frame_indices": frame_indices,
        "category_ids": (track_ids % 3 + 1).long(),
        "scores": torch.full((num_rows,), 0.9),
        "frame_scores": torch.full((num_rows,), 0.8),
        "valid_ratios": torch.ones(num_rows, 2),
        "embeddings" if version == 1 else "decoder_embeddings": embeddings.float(),
    }
    if contrastive is not None:
        payload["contrastive_embeddings"] = contrastive.float()
    torch.save(payload, path)
    return path


def _tsne(*arguments: str) -> int:
    return run_app(app, ["tsne", *arguments])


def test_tsne_of_real_dumps_writes_a_figure_and_the_separation(
    inference: InferenceOutput, synth_data, tmp_path: Path
) -> None:
    out = tmp_path / "tsne.png"
    arguments = [str(inference.embeddings), "--out", str(out), "--categories", str(synth_data.annotations)]
    assert _tsne(*arguments, "--perplexity", "5") == 0
    pixels = decoded_png(out)
    assert pixels.shape[:2] == (550, 1300)  # 13 x 5.5 inches at 100 dpi
    sidecar = json.loads(out.with_suffix(".json").read_text())
    dump = load_dump(inference.embeddings, "embeddings")
    contrastive = track_separation(dump["contrastive_embeddings"], dump["track_ids"])
    decoder = track_separation(dump["decoder_embeddings"], dump["track_ids"])
    assert (sidecar["space"], sidecar["dimension"]) == ("contrastive", 64)
    assert sidecar["separation"] == pytest.approx(contrastive.separation)
    assert sidecar["separations"]["contrastive"]["separation"] == pytest.approx(contrastive.separation)
    assert sidecar["separations"]["decoder"]["separation"] == pytest.approx(decoder.separation)
    assert sidecar["num_rows"] == dump.num_rows and sidecar["num_tracks"] == len(dump.track_ids())
    assert (sidecar["method"], sidecar["perplexity"], sidecar["video_id"]) == ("tsne", 5.0, None)


def test_space_decoder_plots_the_decoder_embeddings(
    inference: InferenceOutput, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "decoder.png"
    assert _tsne(str(inference.embeddings), "--out", str(out), "--method", "pca", "--space", "decoder") == 0
    decoded_png(out)
    printed = capsys.readouterr().out
    assert "decoder (plotted)" in printed and "contrastive" in printed and "note:" not in printed
    sidecar = json.loads(out.with_suffix(".json").read_text())
    dump = load_dump(inference.embeddings, "embeddings")
    decoder = track_separation(dump["decoder_embeddings"], dump["track_ids"])
    assert sidecar["space"] == "decoder" and sidecar["separation"] == pytest.approx(decoder.separation)
    assert set(sidecar["separations"]) == {"contrastive", "decoder"}


def test_both_spaces_get_their_own_separation(tmp_path: Path, capsys) -> None:
    clustered, track_ids = clustered_embeddings(6, 8, 32, spread=0.3, seed=0)
    decoder = torch.randn(len(track_ids), 64, generator=torch.Generator().manual_seed(1))
    dump = write_embeddings_dump(tmp_path / "embeddings.pt", decoder, track_ids, contrastive=clustered)
    out = tmp_path / "spaces.png"
    assert _tsne(str(dump), "--out", str(out), "--method", "pca") == 0
    assert "contrastive (plotted)" in capsys.readouterr().out
    sidecar = json.loads(out.with_suffix(".json").read_text())
    separations = sidecar["separations"]
    assert sidecar["space"] == "contrastive"
    assert (separations["contrastive"]["dimension"], separations["decoder"]["dimension"]) == (32, 64)
    assert separations["contrastive"]["separation"] > 3 * separations["decoder"]["separation"]


def test_a_dump_without_contrastive_embeddings_falls_back_to_decoder(tmp_path: Path, capsys) -> None:
    clustered, track_ids = clustered_embeddings(4, 6, 16, spread=0.3, seed=2)
    old = write_embeddings_dump(tmp_path / "old.pt", clustered, track_ids, version=1)
    out = tmp_path / "old.png"
    assert _tsne(str(old), "--out", str(out), "--method", "pca") == 0
    printed = capsys.readouterr().out
    assert "note: old.pt has no contrastive embeddings" in printed and "plotting the decoder" in printed
    sidecar = json.loads(out.with_suffix(".json").read_text())
    expected = track_separation(clustered, track_ids)
    assert sidecar["space"] == "decoder" and list(sidecar["separations"]) == ["decoder"]
    assert sidecar["separation"] == pytest.approx(expected.separation)
    assert _tsne(str(old), "--out", str(tmp_path / "refused.png"), "--space", "contrastive") == 2
    error = capsys.readouterr().err.strip()
    assert "--space contrastive" in error and "no contrastive_embeddings" in error and "\n" not in error
    assert not (tmp_path / "refused.png").exists()


@pytest.mark.parametrize("color_by", ["category", "frame"])
def test_pca_of_one_video_coloured_by_category_or_frame(
    inference: InferenceOutput, tmp_path: Path, color_by: str
) -> None:
    out = tmp_path / f"{color_by}.png"
    arguments = [str(inference.embeddings), "--out", str(out), "--method", "pca", "--video", "2"]
    assert _tsne(*arguments, "--color-by", color_by) == 0
    decoded_png(out)
    sidecar = json.loads(out.with_suffix(".json").read_text())
    video_rows = load_dump(inference.embeddings, "embeddings").for_video(2)
    expected = track_separation(video_rows["contrastive_embeddings"], video_rows["track_ids"])
    assert sidecar["separations"]["contrastive"]["separation"] == pytest.approx(expected.separation)
    assert sidecar["num_rows"] == video_rows.num_rows and sidecar["video_id"] == 2
    assert sidecar["perplexity"] is None


def test_clustered_embeddings_get_a_higher_separation_than_random_ones(tmp_path: Path) -> None:
    clustered, track_ids = clustered_embeddings(6, 8, 64, spread=0.3, seed=0)
    random = torch.randn(clustered.shape, generator=torch.Generator().manual_seed(1))
    numbers = {}
    for name, embeddings in (("clustered", clustered), ("random", random)):
        dump = write_embeddings_dump(tmp_path / f"{name}.pt", embeddings, track_ids)
        out = tmp_path / f"{name}.png"
        assert _tsne(str(dump), "--out", str(out), "--categories", "ovis") == 0
        decoded_png(out)
        numbers[name] = json.loads(out.with_suffix(".json").read_text())["separation"]
    assert numbers["clustered"] > 3 * numbers["random"]


def test_bad_inputs_exit_with_one_line(inference: InferenceOutput, tmp_path: Path, capsys) -> None:
    out = str(tmp_path / "x.png")
    cases = [
        ([str(inference.reference_points), "--out", out], "field 'kind': expected 'embeddings'"),
        ([str(tmp_path / "missing.pt"), "--out", out], "no such file"),
        ([str(inference.embeddings), "--out", out, "--color-by", "size"], "--color-by: expected one of"),
        ([str(inference.embeddings), "--out", out, "--method", "umap"], "--method: expected one of"),
        ([str(inference.embeddings), "--out", out, "--space", "both"], "--space: expected one of"),
        ([str(inference.embeddings), "--out", out, "--video", "7"], "no rows for video 7"),
    ]
    for arguments, message in cases:
        capsys.readouterr()
        assert _tsne(*arguments) == 2
        error = capsys.readouterr().err.strip()
        assert error.startswith("error: ") and message in error and "\n" not in error
    assert not Path(out).exists()
