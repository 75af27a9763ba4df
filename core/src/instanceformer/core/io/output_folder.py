"""Output folders of the commands: checked before any work, written aside, moved in when complete.

A command that writes a folder (``--out``) never mixes its files with those of another run:

- :func:`check_output_folder` refuses a path that is not a folder (a file, a symbolic link, a device)
  and, unless ``force``, a folder that already holds anything besides the entries the command extends
  (``accepted``, e.g. the dataset ``ifm-prep import-video`` adds a video to).
- :func:`staged_output_folder` gives the command an empty staging folder beside ``out``. When the command
  finishes, the command's own output names are removed from ``out`` (so no file of an earlier run stays
  beside the new ones) and the staged entries are moved in; files with other names are kept. When it
  fails or is interrupted, the staging folder and the parent folders made for it are removed and ``out``
  is left as it was: a new ``out`` never exists half-written.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Collection, Iterator
from pathlib import Path

from instanceformer.core.errors import UserError
from instanceformer.core.io.atomic import file_kind

_LISTED_ENTRIES = 3


def check_output_folder(
    out: str | os.PathLike[str], *, force: bool, option: str = "--out", accepted: Collection[str] = ()
) -> None:
    """Raise :class:`UserError` unless ``out`` can take a command's outputs.

    Args:
        out: the output folder (it need not exist).
        force: take a folder that holds other entries (the command then replaces its own names only).
        option: the option that named ``out``, for the message.
        accepted: top-level names the command extends rather than replaces; a folder holding only these
            is taken without ``force``.
    """
    out = Path(out)
    try:
        mode = os.lstat(out).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(mode):
        raise UserError(f"{out}: {option}: expected a folder or a new path, found {file_kind(mode)}")
    if force:
        return
    foreign = sorted(entry.name for entry in out.iterdir() if entry.name not in accepted)
    if foreign:
        shown = ", ".join(foreign[:_LISTED_ENTRIES]) + (", ..." if len(foreign) > _LISTED_ENTRIES else "")
        raise UserError(
            f"{out}: {option}: expected a new or empty folder, found {len(foreign)} entries of an earlier "
            f"run or another tool ({shown}); choose another folder, or add --force to replace this "
            f"command's outputs there (other files are kept)"
        )


@contextlib.contextmanager
def staged_output_folder(
    out: str | os.PathLike[str],
    *,
    own_names: Collection[str],
    force: bool,
    option: str = "--out",
    accepted: Collection[str] = (),
) -> Iterator[Path]:
    """Yield an empty staging folder beside ``out``; when the block ends normally, move its entries in.

    ``out`` is checked first (:func:`check_output_folder`). On success the paths ``own_names`` (relative
    to ``out``) are removed from ``out``, then the staged entries are moved in: staged folders are merged
    into existing folders of the same name, staged files replace files of the same name. On an exception
    (an interrupt included) the staging folder and the parent folders made for it are removed, ``out`` is
    untouched, and an ``OSError`` naming a staged path names the matching path under ``out`` instead.
    """
    out = Path(out)
    check_output_folder(out, force=force, option=option, accepted=accepted)
    created = _make_folder(out.parent)
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
        os.chmod(staging, 0o777 & ~_umask())
    except BaseException:
        _remove_empty(created)
        raise
    try:
        yield staging
        _move_in(staging, out, own_names)
    except OSError as problem:
        _discard(staging, created)
        raise _naming_final_path(problem, staging, out) from problem
    except BaseException:
        _discard(staging, created)
        raise


def _umask() -> int:
    """The process umask (read by setting it and restoring it)."""
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _make_folder(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; return the folders created, deepest first."""
    missing = []
    current = folder
    while not os.path.lexists(current) and current != current.parent:
        missing.append(current)
        current = current.parent
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def _remove_empty(folders: list[Path]) -> None:
    """Remove the given folders, deepest first, stopping at the first that is not empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def _discard(staging: Path, created: list[Path]) -> None:
    """Remove the staging folder and the parents made for it."""
    shutil.rmtree(staging, ignore_errors=True)
    _remove_empty(created)


def _remove(path: Path) -> None:
    """Remove a file, a link or a whole folder (a link to a folder is removed, not followed)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()


def _merge(source: Path, target: Path) -> None:
    """Move the entries of ``source`` into the folder ``target`` (folders merged, files replaced)."""
    for entry in sorted(source.iterdir()):
        destination = target / entry.name
        if entry.is_dir() and destination.is_dir() and not destination.is_symlink():
            _merge(entry, destination)
        else:
            _remove(destination)
            os.replace(entry, destination)


def _move_in(staging: Path, out: Path, own_names: Collection[str]) -> None:
    """Replace ``out``'s own names by the staged entries (rename the staging folder when ``out`` is new)."""
    if not os.path.lexists(out):
        os.replace(staging, out)
        return
    for name in own_names:
        _remove(out / name)
    _merge(staging, out)
    shutil.rmtree(staging)


def _naming_final_path(problem: OSError, staging: Path, out: Path) -> OSError:
    """``problem`` naming the path under ``out`` when it names a path under the staging folder."""
    if problem.errno is None or problem.filename is None:
        return problem
    named = Path(os.fsdecode(problem.filename))
    if not named.is_relative_to(staging):
        return problem
    final = out / named.relative_to(staging)
    return OSError(problem.errno, problem.strerror or os.strerror(problem.errno), str(final))
