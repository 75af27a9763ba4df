"""The run folder: the file contract between training, inference and analysis.

::

    runs/<name>/
        config.yaml                  the fully resolved configuration
        manifest.json                git commit, package versions, dataset manifests, config hash
        metrics.jsonl                one JSON object per logging step / epoch
        metrics.superseded.jsonl     lines a resumed run logged again, moved out of metrics.jsonl
        checkpoints/<epoch>-<step>.pt
        checkpoints/last.pt          the newest checkpoint (a hard link or copy of it)

Checkpoints (written and read by :mod:`instanceformer.core.engine.checkpoints`) hold only tensors and
plain values (``model``, ``optimizer``, ``scheduler``, ``step``,
``epoch``, ``rng``, ``config``, ``schema_version``) and load with ``torch.load(weights_only=True)``.
Every file is written atomically, so a crash never leaves a truncated checkpoint, config or manifest.

A new run is written by :meth:`RunFolder.create`; :meth:`RunFolder.check_target` refuses a target beforehand
without writing anything, so a command can check its ``--out`` first and create the folder only once the
run has started. A resumed run reads its settings from ``config.yaml`` (:meth:`RunFolder.resumed_config`)
and records each resume in ``manifest.json`` (:meth:`RunFolder.record_resume`).
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
# Keys a resumed run may change: where it stops; anything else is a different run.
RESUMABLE_CHANGES = ("train.max_steps", "train.epochs")
SUPERSEDED_METRICS_NAME = "metrics.superseded.jsonl"


@dataclass(frozen=True)
class CheckpointInfo:
    """A numbered checkpoint file of a run folder."""

    path: Path
    epoch: int
    step: int


@dataclass(frozen=True)
class SettingChange:
    """A configuration key whose value a resumed run changes."""

    key: str
    before: Any
    after: Any

    def describe(self) -> str:
        """``key before -> after``."""
        return f"{self.key} {self.before!r} -> {self.after!r}"


@dataclass(frozen=True)
class SupersededMetrics:
    """What :meth:`RunFolder.supersede_metrics` moved out of ``metrics.jsonl``."""

    after_step: int
    steps: tuple[int, ...]
    incomplete_line: bool
    destination: Path

    def describe(self) -> str:
        """One line for the console: which lines moved where, and why."""
        parts = []
        if self.steps:
            first, last = min(self.steps), max(self.steps)
            span = f"step {first}" if first == last else f"steps {first}-{last}"
            parts.append(
                f"{len(self.steps)} line(s) of {span}, logged after the checkpoint of step {self.after_step}"
            )
        if self.incomplete_line:
            parts.append("an incomplete last line (a write cut off by a crash)")
        return (
            f"metrics.jsonl: moved {' and '.join(parts)} to {self.destination.name}; "
            "the resumed run logs those steps again"
        )


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
    def superseded_metrics_path(self) -> Path:
        return self.root / SUPERSEDED_METRICS_NAME

    @property
    def checkpoint_dir(self) -> Path:
        return self.root / "checkpoints"

    @property
    def last_checkpoint_path(self) -> Path:
        return self.checkpoint_dir / "last.pt"

    @property
    def is_run(self) -> bool:
        """Whether the folder holds a run (its ``config.yaml``)."""
        return self.config_path.is_file()

    @classmethod
    def check_target(cls, root: str | os.PathLike[str], *, force: bool = False) -> RunFolder:
        """Refuse ``root`` as the folder of a new run, as :meth:`create` would, without writing anything.

        ``root`` may be missing or an empty folder; an existing run is refused unless ``force``; a folder
        that holds other files and is no run folder is always refused.
        """
        run = cls(root)
        if run.root.exists() and not run.root.is_dir():
            raise UserError(f"{run.root}: exists and is not a folder")
        if run.root.is_dir() and any(run.root.iterdir()) and not run.is_run:
            raise UserError(f"{run.root}: folder is not empty and is not a run folder; choose another --out")
        if run.is_run and not force:
            raise UserError(f"{run.root}: a run already exists here; pass --resume to continue it or --force")
        return run

    @classmethod
    def create(
        cls,
        root: str | os.PathLike[str],
        config: Config,
        *,
        force: bool = False,
        dataset_manifests: Sequence[str | os.PathLike[str]] = (),
        command: Sequence[str] | None = None,
    ) -> RunFolder:
        """Create a run folder for ``config``: ``config.yaml``, ``manifest.json`` and ``checkpoints/``.

        The target is checked by :meth:`check_target`; with ``force`` an existing run folder is deleted
        first.
        """
        run = cls.check_target(root, force=force)
        if run.is_run:
            shutil.rmtree(run.root)
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

    def resumed_config(self, overrides: Sequence[str] = (), requested: Config | None = None) -> Config:
        """The configuration a resumed run continues with: ``config.yaml`` with ``overrides`` on top.

        Args:
            overrides: the command's ``a.b=c`` strings. Only :data:`RESUMABLE_CHANGES` may change the
                run's value; any other key must repeat it.
            requested: the configuration the command line describes in full (a preset plus overrides),
                when it names a preset: it must equal the run's except for :data:`RESUMABLE_CHANGES`,
                which keep the run's value unless ``overrides`` set them.

        Raises:
            UserError: a key other than :data:`RESUMABLE_CHANGES` differs from the run's.
        """
        if requested is not None:
            self.check_resumable(requested)
        config = load_config(self.config_path, overrides)
        self.check_resumable(config)
        return config

    def check_resumable(self, config: Config) -> list[SettingChange]:
        """The :data:`RESUMABLE_CHANGES` that ``config`` makes to the run's configuration.

        Raises:
            UserError: another key differs (a different run).
        """
        changes = setting_changes(self.load_config(), config)
        forbidden = [change for change in changes if change.key not in RESUMABLE_CHANGES]
        if forbidden:
            change = forbidden[0]
            raise UserError(
                f"{self.config_path}: cannot resume with a different '{change.key}' "
                f"(run has {change.before!r}, asked {change.after!r}); only "
                f"{', '.join(RESUMABLE_CHANGES)} may change on resume"
            )
        return changes

    def record_resume(
        self,
        config: Config,
        *,
        checkpoint: Path,
        step: int,
        command: Sequence[str] | None = None,
    ) -> list[SettingChange]:
        """Record a resume: rewrite ``config.yaml`` when ``config`` changes where the run stops, and add
        an entry to the ``resumes`` list of ``manifest.json`` (checkpoint, step, command, changes).

        Returns the changed settings.
        """
        changes = self.check_resumable(config)
        if changes:
            write_text_atomic(self.config_path, dump_config(config))
        manifest: dict[str, Any] = {}
        if self.manifest_path.is_file():
            try:
                manifest = json.loads(self.manifest_path.read_text(encoding="utf-8"))
            except json.JSONDecodeError:
                raise FormatError(self.manifest_path, None, None, "expected a JSON run manifest") from None
            if not isinstance(manifest, dict):
                raise FormatError(self.manifest_path, None, None, "expected a JSON object")
        manifest["config_hash"] = config_hash(config)
        entry = {
            "resumed": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "checkpoint": _relative(checkpoint, self.root),
            "step": int(step),
            "git_commit": git_commit(),
            "command": list(command) if command is not None else None,
            "changes": {change.key: [change.before, change.after] for change in changes},
        }
        manifest["resumes"] = [*manifest.get("resumes", []), entry]
        write_json_atomic(self.manifest_path, manifest, indent=2)
        return changes

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

    def supersede_metrics(self, step: int) -> SupersededMetrics | None:
        """Move the ``metrics.jsonl`` lines of steps after ``step`` (and an incomplete last line) to
        ``metrics.superseded.jsonl``: a run resumed from the checkpoint of ``step`` logs them again.

        Each moved line is appended to ``metrics.superseded.jsonl`` as ``{"resumed_from_step": step,
        "record": {...}}`` (an incomplete line as ``"incomplete_line": "<its text>"``); ``metrics.jsonl``
        keeps the lines up to ``step`` (rewritten atomically). Returns what moved, or None when nothing
        did.
        """
        if not self.metrics_path.is_file():
            return None
        text = self.metrics_path.read_text(encoding="utf-8")
        lines = text.split("\n")
        kept, moved, steps = [], [], []
        incomplete = False
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                if number != len(lines):
                    raise FormatError(
                        self.metrics_path, f"line {number}", None, "expected one JSON object per line"
                    ) from None
                moved.append({"resumed_from_step": int(step), "incomplete_line": line})
                incomplete = True
                continue
            if not isinstance(record, dict):
                raise FormatError(self.metrics_path, f"line {number}", None, "expected a JSON object")
            if int(record.get("step", 0)) <= step:
                kept.append(line + "\n")
            else:
                moved.append({"resumed_from_step": int(step), "record": record})
                steps.append(int(record["step"]))
        if not moved:
            return None
        block = "".join(json.dumps(item, separators=(",", ":"), allow_nan=True) + "\n" for item in moved)
        earlier = ""
        if self.superseded_metrics_path.is_file():
            earlier = self.superseded_metrics_path.read_text(encoding="utf-8")
            if earlier and not earlier.endswith("\n"):
                earlier += "\n"
        write_text_atomic(self.superseded_metrics_path, earlier + block)
        write_text_atomic(self.metrics_path, "".join(kept))
        return SupersededMetrics(int(step), tuple(steps), incomplete, self.superseded_metrics_path)


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


def setting_changes(before: Config, after: Config) -> list[SettingChange]:
    """The keys (``section.key``) whose values differ between two configurations, sorted by key."""
    old = _flatten(config_to_dict(before))
    new = _flatten(config_to_dict(after))
    return [
        SettingChange(key, old.get(key), new.get(key))
        for key in sorted(old.keys() | new.keys())
        if old.get(key) != new.get(key)
    ]


def _relative(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` when it lies inside it, else as given."""
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return str(path)


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
