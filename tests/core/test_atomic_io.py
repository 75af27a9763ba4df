"""Atomic writers of core.io: complete files or nothing, no temporary files left, reproducible zips."""

from __future__ import annotations

import json
import os
import pickle
import stat
import zipfile
from pathlib import Path

import pytest
import torch

from instanceformer.core.engine.torch_io import save_torch_atomic
from instanceformer.core.io import (
    atomic_path,
    write_bytes_atomic,
    write_json_atomic,
    write_text_atomic,
    write_zip_atomic,
)


class Unserialisable:
    """An object json.dumps cannot write."""


def _names(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def test_writers_create_folders_and_files(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    assert write_bytes_atomic(target / "x.bin", b"\x00\x01").read_bytes() == b"\x00\x01"
    assert write_text_atomic(target / "x.txt", "héllo").read_text(encoding="utf-8") == "héllo"
    compact = write_json_atomic(target / "x.json", {"a": [1, 2]})
    assert compact.read_text() == '{"a":[1,2]}'
    indented = write_json_atomic(target / "y.json", {"a": 1}, indent=2)
    assert indented.read_text() == '{\n  "a": 1\n}\n'
    assert _names(target) == ["x.bin", "x.json", "x.txt", "y.json"]


def test_overwrite_replaces_content(tmp_path: Path) -> None:
    path = write_text_atomic(tmp_path / "f.txt", "old")
    write_text_atomic(path, "new")
    assert path.read_text() == "new"
    assert _names(tmp_path) == ["f.txt"]


def test_destination_untouched_when_json_serialisation_fails(tmp_path: Path) -> None:
    path = write_json_atomic(tmp_path / "m.json", {"ok": True})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"bad": Unserialisable()})
    with pytest.raises(ValueError):
        write_json_atomic(path, {"score": float("nan")})
    assert json.loads(path.read_text()) == {"ok": True}
    assert _names(tmp_path) == ["m.json"]


def test_destination_untouched_when_writer_raises_midway(tmp_path: Path) -> None:
    path = write_bytes_atomic(tmp_path / "big.bin", b"original")
    with pytest.raises(RuntimeError, match="crash"), atomic_path(path) as temporary:
        temporary.write_bytes(b"half of the new cont")
        assert temporary.parent == path.parent
        assert temporary != path
        raise RuntimeError("crash")
    assert path.read_bytes() == b"original"
    assert _names(tmp_path) == ["big.bin"]


def test_nothing_created_when_first_write_fails(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), atomic_path(tmp_path / "new.bin") as temporary:
        temporary.write_bytes(b"partial")
        raise KeyboardInterrupt
    assert _names(tmp_path) == []


def test_torch_save_failure_leaves_no_trace(tmp_path: Path) -> None:
    path = save_torch_atomic(tmp_path / "last.pt", {"step": 1})
    with pytest.raises((AttributeError, pickle.PicklingError)):  # a local function cannot be pickled
        save_torch_atomic(path, {"step": 2, "function": lambda value: value})
    assert torch.load(path, weights_only=True) == {"step": 1}
    assert _names(tmp_path) == ["last.pt"]


def test_checkpoint_loads_with_weights_only(tmp_path: Path) -> None:
    payload = {
        "model": {"layer.weight": torch.arange(6, dtype=torch.float32).reshape(2, 3)},
        "step": 12,
        "epoch": 1,
        "config": {"model": {"num_queries": 300}, "name": "tiny"},
        "rng": torch.get_rng_state(),
        "schema_version": 1,
    }
    path = save_torch_atomic(tmp_path / "checkpoints" / "1-12.pt", payload)
    loaded = torch.load(path, weights_only=True)
    assert torch.equal(loaded["model"]["layer.weight"], payload["model"]["layer.weight"])
    assert torch.equal(loaded["rng"], payload["rng"])
    assert {key: loaded[key] for key in ("step", "epoch", "config", "schema_version")} == {
        key: payload[key] for key in ("step", "epoch", "config", "schema_version")
    }
    assert _names(path.parent) == ["1-12.pt"]


def test_zip_bytes_are_deterministic_and_readable(tmp_path: Path) -> None:
    members = {"results.json": b"[]", "notes/readme.txt": b"hello" * 100}
    first = write_zip_atomic(tmp_path / "one.zip", members).read_bytes()
    second = write_zip_atomic(tmp_path / "two.zip", dict(members)).read_bytes()
    assert first == second
    with zipfile.ZipFile(tmp_path / "one.zip") as archive:
        assert archive.namelist() == ["results.json", "notes/readme.txt"]
        assert archive.read("notes/readme.txt") == b"hello" * 100
        info = archive.getinfo("results.json")
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.compress_type == zipfile.ZIP_DEFLATED
        assert archive.testzip() is None
    reordered = {"notes/readme.txt": b"hello" * 100, "results.json": b"[]"}
    assert write_zip_atomic(tmp_path / "three.zip", reordered).read_bytes() != first
    assert _names(tmp_path) == ["one.zip", "three.zip", "two.zip"]


def test_written_files_get_the_permissions_of_an_ordinary_file(tmp_path) -> None:
    previous = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "a.txt", "x")
        (tmp_path / "b.txt").write_text("x")
    finally:
        os.umask(previous)
    mode_atomic = stat.S_IMODE((tmp_path / "a.txt").stat().st_mode)
    assert mode_atomic == stat.S_IMODE((tmp_path / "b.txt").stat().st_mode) == 0o644
