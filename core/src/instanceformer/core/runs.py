"""The run folder: the file contract between training, inference and analysis.

::

    runs/<name>/
        config.yaml                  the fully resolved configuration
        manifest.json                git commit, package versions, dataset manifests, config hash
        metrics.jsonl                one JSON object per logging step / epoch
        checkpoints/<epoch>-<step>.pt
        checkpoints/last.pt          the newest checkpoint (a hard link or copy of it)

Checkpoints (written and read by :mod:`instanceformer.core.engine.checkpoints`) hold only tensors and
plain values (``model``, ``optimizer``, ``scheduler``, ``step``,
``epoch``, ``rng``, ``config``, ``schema_version``) and load with ``torch.load(weights_only=True)``.
Every file is written atomically, so a crash never leaves a truncated checkpoint, config or manifest.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from instanceformer.core.config import Config, config_hash, config_to_dict, dump_config, load_config
from instanceformer.core.errors import FormatError, UserError
from instanceformer.core.io import atomic_path, write_json_atomic, write_text_atomic
from instanceformer.core.versions import TOOLKIT_DISTRIBUTIONS, distribution_version

_CHECKPOINT_NAME = re.compile(r"^(\d+)-(\d+)\.pt$")
# Keys a resumed run may change: training longer is allowed, anything else is a different run.
RESUMABLE_CHANGES = ("train.max_steps", "train.epochs")


@dataclass(frozen=True)
class CheckpointInfo:
    """A numbered checkpoint file of a run folder."""

    path: Path
    epoch: int
    step: int


class RunFolder:
    """A run folder on disk. Create one with :meth:`create`, open an existing one with :meth:`open`."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)

    @property
    def config_path(self) -> Path:
        return self.root / "config.yaml"

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    @property
    def metrics_path(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def checkpoint_dir(self) -> Path:
        return self.root / "checkpoints"

    @property
    def last_checkpoint_path(self) -> Path:
        return self.checkpoint_dir / "last.pt"

    @classmethod
    def create(
        cls,
        root: str | os.PathLike[str],
        config: Config,
        *,
        resume: bool = False,
        force: bool = False,
        dataset_manifests: Sequence[str | os.PathLike[str]] = (),
        command: Sequence[str] | None = None,
    ) -> RunFolder:
        """Create (or, with ``resume``, reopen) a run folder for ``config``.

        An existing run folder is refused unless ``resume`` (its configuration must equal ``config``
        except for :data:`RESUMABLE_CHANGES`) or ``force`` (its contents are deleted first). A folder that
        holds other files and is no run folder is always refused.
        """
        run = cls(root)
        if run.root.exists() and not run.root.is_dir():
            raise UserError(f"{run.root}: exists and is not a folder")
        has_run = run.config_path.is_file()
        if run.root.is_dir() and any(run.root.iterdir()) and not has_run:
            raise UserError(f"{run.root}: folder is not empty and is not a run folder; choose another --out")
        if has_run and resume:
            run._check_resumable(config)
        elif has_run and force:
            shutil.rmtree(run.root)
        elif has_run:
            raise UserError(f"{run.root}: a run already exists here; pass --resume to continue it or --force")
        run.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(run.config_path, dump_config(config))
        write_json_atomic(run.manifest_path, build_manifest(config, dataset_manifests, command), indent=2)
        return run

    @classmethod
    def open(cls, root: str | os.PathLike[str]) -> RunFolder:
        """Open an existing run folder (it must hold ``config.yaml``)."""
        run = cls(root)
        if not run.config_path.is_file():
            raise UserError(f"{run.root}: not a run folder (no config.yaml)")
        return run

    def load_config(self) -> Config:
        """The run's resolved configuration, rebuilt from ``config.yaml``."""
        return load_config(self.config_path)

    def _check_resumable(self, config: Config) -> None:
        stored = _flatten(config_to_dict(self.load_config()))
        wanted = _flatten(config_to_dict(config))
        changed = sorted(key for key in stored.keys() | wanted.keys() if stored.get(key) != wanted.get(key))
        forbidden = [key for key in changed if key not in RESUMABLE_CHANGES]
        if forbidden:
            key = forbidden[0]
            raise UserError(
                f"{self.config_path}: cannot resume with a different '{key}' "
                f"(run has {stored.get(key)!r}, asked {wanted.get(key)!r}); only "
                f"{', '.join(RESUMABLE_CHANGES)} may change on resume"
            )

    def checkpoints(self) -> list[CheckpointInfo]:
        """The numbered checkpoints, oldest first (by step, then epoch)."""
        if not self.checkpoint_dir.is_dir():
            return []
        found = []
        for path in self.checkpoint_dir.iterdir():
            match = _CHECKPOINT_NAME.match(path.name)
            if match:
                found.append(CheckpointInfo(path, epoch=int(match.group(1)), step=int(match.group(2))))
        return sorted(found, key=lambda info: (info.step, info.epoch))

    def numbered_checkpoint_path(self, epoch: int, step: int) -> Path:
        """The numbered checkpoint of ``epoch`` and ``step``: ``checkpoints/<epoch>-<step>.pt``."""
        return self.checkpoint_dir / f"{int(epoch):04d}-{int(step):09d}.pt"

    def promote_checkpoint(self, path: Path, *, keep: int) -> None:
        """Point ``last.pt`` at the numbered checkpoint ``path`` (a hard link, else a copy) and delete all
        but the newest ``keep`` numbered checkpoints."""
        with atomic_path(self.last_checkpoint_path) as temporary:
            temporary.unlink()
            try:
                os.link(path, temporary)
            except OSError:
                shutil.copyfile(path, temporary)
        for stale in self.checkpoints()[:-keep]:
            stale.path.unlink(missing_ok=True)

    def append_metrics(self, record: Mapping[str, Any]) -> None:
        """Append one JSON object as a line of ``metrics.jsonl`` (a single write, flushed to disk)."""
        line = json.dumps(dict(record), separators=(",", ":"), allow_nan=True) + "\n"
        descriptor = os.open(self.metrics_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(descriptor, line.encode("utf-8"))
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

    def read_metrics(self) -> list[dict[str, Any]]:
        """The records of ``metrics.jsonl``; see :func:`read_metrics`."""
        return read_metrics(self.metrics_path)


def read_metrics(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read a ``metrics.jsonl`` file. A truncated last line (a crash mid-write) is skipped."""
    path = Path(path)
    lines = path.read_text(encoding="utf-8").split("\n")
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):
                break
            raise FormatError(path, f"line {number}", None, "expected one JSON object per line") from None
        if not isinstance(record, dict):
            raise FormatError(path, f"line {number}", None, "expected a JSON object")
        records.append(record)
    return records


def build_manifest(
    config: Config,
    dataset_manifests: Iterable[str | os.PathLike[str]] = (),
    command: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The provenance record of a run: code version, packages, datasets, configuration hash."""
    datasets = []
    for manifest in dataset_manifests:
        manifest_path = Path(manifest)
        try:
            content = json.loads(manifest_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            raise FormatError(manifest_path, None, None, "expected a JSON dataset manifest") from None
        datasets.append({"path": str(manifest_path.resolve()), "manifest": content})
    packages = {name: distribution_version(name) for name in TOOLKIT_DISTRIBUTIONS}
    for name in ("torch", "torchvision", "numpy", "pycocotools"):
        packages[name] = distribution_version(name)
    return {
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "packages": packages,
        "config_hash": config_hash(config),
        "preset": config.preset,
        "datasets": datasets,
        "command": list(command) if command is not None else None,
    }


def git_commit() -> str | None:
    """The toolkit source checkout's commit (with ``+dirty`` when modified), or None outside git."""
    source = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=source, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=source,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}+dirty" if dirty else commit


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
