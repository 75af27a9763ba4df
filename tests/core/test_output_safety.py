"""Writers never replace what they did not write, and file-system faults end in one line.

The faults are injected: the tests run as root, so a read-only folder cannot be made with chmod; the
system calls of the writers are patched to fail with ENOSPC, EROFS or EACCES instead.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

import pytest
import typer

from instanceformer.core.cli import create_app, run_app
from instanceformer.core.errors import UserError
from instanceformer.core.io import (
    atomic_path,
    check_output_folder,
    staged_output_folder,
    write_json_atomic,
    write_text_atomic,
)

FAULTS = [
    (errno.ENOSPC, "No space left on device"),
    (errno.EROFS, "Read-only file system"),
    (errno.EACCES, "Permission denied"),
]


def _entries(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def _special_destinations(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """A FIFO, links to a file and to a folder, and a folder, each with the kind the error names."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    target = tmp_path / "target.json"
    target.write_text("kept")
    file_link = tmp_path / "file_link.json"
    file_link.symlink_to(target)
    folder_link = tmp_path / "folder_link"
    folder_link.symlink_to(tmp_path)
    folder = tmp_path / "folder"
    folder.mkdir()
    return {
        "fifo": (fifo, "a named pipe (FIFO)"),
        "link to a file": (file_link, "a symbolic link"),
        "link to a folder": (folder_link, "a symbolic link"),
        "folder": (folder, "a folder"),
    }


def test_writers_refuse_fifos_links_and_folders(tmp_path: Path) -> None:
    for name, (destination, kind) in _special_destinations(tmp_path).items():
        mode = os.lstat(destination).st_mode
        with pytest.raises(UserError) as refused:
            write_json_atomic(destination, {"a": 1})
        message = str(refused.value)
        assert message == (
            f"{destination}: refusing to write: expected a regular file or a new path, found {kind}"
        ), name
        assert os.lstat(destination).st_mode == mode, name
    assert (tmp_path / "target.json").read_text() == "kept"
    assert not [entry for entry in _entries(tmp_path) if entry.endswith(".tmp")]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_writers_refuse_a_device_such_as_dev_full() -> None:
    with pytest.raises(UserError, match="^/dev/full: refusing to write: .* found a character device$"):
        write_text_atomic("/dev/full", "x")
    assert stat.S_ISCHR(os.lstat("/dev/full").st_mode)


def test_a_regular_file_is_still_replaced(tmp_path: Path) -> None:
    path = write_text_atomic(tmp_path / "a.txt", "old")
    write_text_atomic(path, "new")
    assert path.read_text() == "new"


@pytest.mark.parametrize(("code", "text"), FAULTS)
def test_a_failed_rename_names_the_destination_and_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, text: str
) -> None:
    destination = write_text_atomic(tmp_path / "metrics.json", "old")

    def failing_replace(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        raise OSError(code, os.strerror(code), os.fspath(source), os.fspath(target))

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError) as failure:
        write_text_atomic(destination, "new")
    assert failure.value.errno == code and failure.value.filename == str(destination)
    assert failure.value.strerror == text
    assert destination.read_text() == "old"
    assert _entries(tmp_path) == ["metrics.json"]


def test_a_full_disk_while_flushing_names_the_destination(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(descriptor: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError) as failure:
        write_json_atomic(tmp_path / "results.json", [])
    assert failure.value.errno == errno.ENOSPC and failure.value.filename == str(tmp_path / "results.json")
    assert _entries(tmp_path) == []


def test_a_read_only_folder_names_the_destination(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def read_only(*arguments: object, **options: object) -> tuple[int, str]:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(tmp_path / ".results.json.x.tmp"))

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with pytest.raises(OSError) as failure, atomic_path(tmp_path / "results.json"):
        pass
    assert failure.value.errno == errno.EROFS and failure.value.filename == str(tmp_path / "results.json")


def _writing_app(destination: Path) -> typer.Typer:
    app = create_app("ifm-test", "instanceformer-core", "A tool for tests.")

    @app.command()
    def write() -> None:
        """Write one file."""
        write_json_atomic(destination, {"ok": True})

    @app.command()
    def other() -> None:
        """Another command."""

    return app


@pytest.mark.parametrize(("code", "text"), FAULTS)
def test_run_app_reports_os_faults_in_one_line_with_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], code: int, text: str
) -> None:
    def failing_fsync(descriptor: int) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "fsync", failing_fsync)
    destination = tmp_path / "out" / "metrics.json"
    assert run_app(_writing_app(destination), ["write"]) == 2
    error = capsys.readouterr().err
    assert error == f"error: {destination}: {text}\n"
    assert _entries(destination.parent) == []


def test_run_app_refuses_a_special_destination_in_one_line(tmp_path: Path, capsys) -> None:
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    assert run_app(_writing_app(fifo), ["write"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "found a named pipe (FIFO)" in error and "Traceback" not in error
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_output_folders_must_be_new_or_empty_unless_forced(tmp_path: Path) -> None:
    check_output_folder(tmp_path / "new", force=False)
    check_output_folder(tmp_path, force=False)
    (tmp_path / "results.json").write_text("[]")
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(UserError) as refused:
        check_output_folder(tmp_path, force=False)
    assert str(refused.value) == (
        f"{tmp_path}: --out: expected a new or empty folder, found 2 entries of an earlier run or another "
        f"tool (notes.txt, results.json); choose another folder, or add --force to replace this "
        f"command's outputs there (other files are kept)"
    )
    check_output_folder(tmp_path, force=True)
    check_output_folder(tmp_path, force=False, accepted=("results.json", "notes.txt"))


def test_output_folders_refuse_files_links_and_fifos(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "file").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path)
    for name, kind in (
        ("fifo", "a named pipe (FIFO)"),
        ("file", "a regular file"),
        ("link", "a symbolic link"),
    ):
        with pytest.raises(UserError) as refused:
            check_output_folder(tmp_path / name, force=True)
        assert (
            str(refused.value) == f"{tmp_path / name}: --out: expected a folder or a new path, found {kind}"
        )


def test_a_staged_folder_appears_only_when_complete(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b" / "out"
    with (
        pytest.raises(RuntimeError),
        staged_output_folder(out, own_names=("x.json",), force=False) as staging,
    ):
        write_json_atomic(staging / "x.json", [1])
        assert not out.exists()
        raise RuntimeError("the command failed")
    assert _entries(tmp_path) == []  # the parents made for it are gone too
    with staged_output_folder(out, own_names=("x.json",), force=False) as staging:
        write_json_atomic(staging / "x.json", [1])
        (staging / "sub").mkdir()
        write_json_atomic(staging / "sub" / "y.json", [2])
    assert _entries(out) == ["sub", "x.json"]
    assert _entries(out.parent) == ["out"]
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~_umask()


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def test_force_replaces_own_names_only_and_drops_stale_ones(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "metrics.json").write_text("from an earlier run")
    (out / "results.json").write_text("from an earlier run")
    (out / "notes.txt").write_text("the user's")
    own = ("results.json", "metrics.json")
    with pytest.raises(UserError, match="add --force"), staged_output_folder(out, own_names=own, force=False):
        pass
    with staged_output_folder(out, own_names=own, force=True) as staging:
        (staging / "results.json").write_text("new")
    assert _entries(out) == ["notes.txt", "results.json"]
    assert (out / "results.json").read_text() == "new"
    assert (out / "notes.txt").read_text() == "the user's"


def test_a_fault_in_a_staged_folder_names_the_final_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"

    def full_disk(descriptor: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with (
        pytest.raises(OSError) as failure,
        staged_output_folder(out, own_names=(), force=False) as staging,
    ):
        write_json_atomic(staging / "train" / "a.json", [])
        monkeypatch.setattr(os, "fsync", full_disk)
        write_json_atomic(staging / "train" / "b.json", [])
    assert failure.value.filename == str(out / "train" / "b.json")
    assert _entries(tmp_path) == []


def test_an_interrupt_removes_the_staged_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt), staged_output_folder(out, own_names=(), force=False) as staging:
        write_json_atomic(staging / "a.json", [])
        raise KeyboardInterrupt
    assert _entries(tmp_path) == []
