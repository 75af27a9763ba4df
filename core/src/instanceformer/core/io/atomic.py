"""Atomic writers.

Each writer creates a temporary file next to the destination (same folder, hence same file system),
flushes and fsyncs it, then renames it over the destination with :func:`os.replace`. A crash at any
point leaves either the old file or the new one, never a truncated file. A destination that exists and
is not a regular file (a folder, a symbolic link, a device such as ``/dev/full``, a FIFO, a socket) is
refused before anything is written, and a file-system error (disk full, read-only folder, permission
denied) names the destination rather than the temporary file.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from instanceformer.core.errors import UserError

# A fixed timestamp makes zip archives byte-for-byte reproducible.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def _file_mode() -> int:
    """The permissions ``open(path, "w")`` gives a new file: 0o666 minus the process umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(destination: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``destination``; on success rename it onto ``destination``.

    The caller writes the temporary path by any means (a library's ``save`` function, for example). On
    an exception the temporary file is removed and the destination is left untouched. The destination
    gets the permissions of a file created with ``open`` (the temporary file starts private).
    """
    destination = Path(destination)
    refuse_special_destination(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    try:
        handle, temporary_name = tempfile.mkstemp(
            prefix=f".{destination.name}.", suffix=".tmp", dir=destination.parent
        )
    except OSError as problem:
        raise _naming_destination(problem, destination) from problem
    os.close(handle)
    temporary = Path(temporary_name)
    try:
        yield temporary
        with open(temporary, "rb+") as stream:
            os.fsync(stream.fileno())
        os.chmod(temporary, _file_mode())
        os.replace(temporary, destination)
    except OSError as problem:
        temporary.unlink(missing_ok=True)
        raise _naming_destination(problem, destination) from problem
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_directory(destination.parent)


_FILE_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
)


def refuse_special_destination(destination: str | os.PathLike[str]) -> None:
    """Raise :class:`UserError` when ``destination`` exists and is not a regular file.

    Writers replace regular files only: a folder, a symbolic link (even to a regular file), a device, a
    FIFO or a socket at the destination is left alone and reported in one line.
    """
    try:
        mode = os.lstat(destination).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return
    if stat.S_ISREG(mode):
        return
    raise UserError(
        f"{os.fspath(destination)}: refusing to write: expected a regular file or a new path, "
        f"found {file_kind(mode)}"
    )


def file_kind(mode: int) -> str:
    """What an ``lstat`` mode is, in words: ``"a folder"``, ``"a symbolic link"``, ``"a FIFO"``, ..."""
    if stat.S_ISREG(mode):
        return "a regular file"
    return next((name for test, name in _FILE_KINDS if test(mode)), "a special file")


def _naming_destination(problem: OSError, destination: Path) -> OSError:
    """``problem`` naming ``destination`` when it names the temporary file (or no file) of a write."""
    if problem.errno is None:
        return problem
    named = problem.filename
    if named is not None:
        named_path = Path(os.fsdecode(named))
        temporary_prefix = f".{destination.name}."
        if named_path.parent != destination.parent or not named_path.name.startswith(temporary_prefix):
            return problem
    return OSError(problem.errno, problem.strerror or os.strerror(problem.errno), str(destination))


def _fsync_directory(directory: Path) -> None:
    """Persist a rename on file systems that need the directory entry flushed (best effort)."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def write_bytes_atomic(destination: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``destination`` atomically and return the destination path."""
    with atomic_path(destination) as temporary:
        temporary.write_bytes(data)
    return Path(destination)


def write_text_atomic(destination: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``destination`` atomically and return the destination path."""
    return write_bytes_atomic(destination, text.encode("utf-8"))


def write_json_atomic(
    destination: str | os.PathLike[str], payload: Any, *, indent: int | None = None
) -> Path:
    """Serialise ``payload`` as JSON (compact unless ``indent`` is given) and write it atomically."""
    separators = (",", ":") if indent is None else (",", ": ")
    text = json.dumps(payload, indent=indent, separators=separators, allow_nan=False)
    return write_text_atomic(destination, text + ("\n" if indent is not None else ""))


def write_zip_atomic(destination: str | os.PathLike[str], members: Mapping[str, bytes]) -> Path:
    """Write a deflate-compressed zip with the given ``{member name: bytes}`` atomically.

    Members are written in the given order with a fixed timestamp and permissions, so equal inputs give
    byte-identical archives.
    """
    with (
        atomic_path(destination) as temporary,
        zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive,
    ):
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            archive.writestr(info, data)
    return Path(destination)
