"""Loading, overriding, validating and serialising configurations.

A configuration is resolved in three layers: the dataclass defaults, a preset or YAML file, then
``a.b=c`` overrides. Every layer is checked against the schema: unknown keys fail with the list of
valid keys, values are type-checked (and converted where YAML is ambiguous, e.g. ``1e-4`` read as a
string), and the dataclasses' own constraints run on the result. :func:`dump_config` writes the resolved
configuration back to YAML; loading that YAML gives an equal configuration.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from instanceformer.core.config.schema import Config
from instanceformer.core.errors import ConfigError

_PRESET_PACKAGE = "instanceformer.core.config"
_PRESET_FOLDER = "presets"
_NONE_TYPE = type(None)


def list_presets() -> list[str]:
    """The names of the presets shipped with the toolkit, sorted."""
    folder = resources.files(_PRESET_PACKAGE).joinpath(_PRESET_FOLDER)
    return sorted(item.name[: -len(".yaml")] for item in folder.iterdir() if item.name.endswith(".yaml"))


def load_config(preset_or_path: str | Path | None = None, overrides: Iterable[str] = ()) -> Config:
    """Resolve a configuration from a preset name or a YAML file, then apply overrides.

    Args:
        preset_or_path: a preset name (see :func:`list_presets`), a path to a YAML file (a preset-style
            partial file or a run folder's ``config.yaml``), or ``None`` for the defaults alone.
        overrides: strings ``a.b=c``; ``c`` is read as YAML (``[1, 2]``, ``null``, ``true``) except for
            string-typed keys, which take the text as it is.

    Raises:
        ConfigError: unknown preset, unreadable YAML, unknown key, wrong type or violated constraint.
    """
    data = config_to_dict(Config())
    if preset_or_path is not None:
        layer, source, preset_name = _read_layer(preset_or_path)
        _merge_layer(data, layer, Config, source, prefix="")
        if preset_name is not None:
            data["preset"] = preset_name
    for override in overrides:
        _apply_override(data, override)
    return config_from_dict(data, source="resolved configuration")


def config_to_dict(config: Any) -> dict[str, Any]:
    """A plain nested dict of ``config`` (tuples become lists), ready for YAML or JSON."""
    result: dict[str, Any] = {}
    for item in dataclasses.fields(config):
        value = getattr(config, item.name)
        if dataclasses.is_dataclass(value):
            result[item.name] = config_to_dict(value)
        elif isinstance(value, tuple):
            result[item.name] = list(value)
        else:
            result[item.name] = value
    return result


def config_from_dict(data: Mapping[str, Any], source: str = "configuration") -> Config:
    """Build a :class:`Config` from a complete or partial nested dict, checking keys and types.

    Missing keys take their defaults. ``source`` names the origin in error messages.
    """
    return _build(Config, data, source, prefix="")


def dump_config(config: Config) -> str:
    """The YAML text of a resolved configuration (every key, in schema order)."""
    return yaml.dump(config_to_dict(config), Dumper=_ConfigDumper, sort_keys=False, width=100)


class _ConfigDumper(yaml.SafeDumper):
    """YAML dumper writing sections as blocks and lists inline (``[8, 16, 32]``)."""


_ConfigDumper.add_representer(
    list, lambda dumper, items: dumper.represent_sequence("tag:yaml.org,2002:seq", items, flow_style=True)
)


def config_hash(config: Config) -> str:
    """A short, stable fingerprint of a configuration (16 hex digits of the SHA-256 of its JSON)."""
    canonical = json.dumps(config_to_dict(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def _read_layer(preset_or_path: str | Path) -> tuple[dict[str, Any], str, str | None]:
    """Read a preset or YAML file; return its mapping, a name for messages and the preset name."""
    path = Path(preset_or_path)
    is_file_like = path.suffix in (".yaml", ".yml") or path.exists()
    if is_file_like:
        if not path.is_file():
            raise ConfigError(f"{path}: no such configuration file")
        text = path.read_text(encoding="utf-8")
        source, preset_name = str(path), None
    else:
        name = str(preset_or_path)
        resource = resources.files(_PRESET_PACKAGE).joinpath(_PRESET_FOLDER, f"{name}.yaml")
        if not resource.is_file():
            raise ConfigError(
                f"unknown preset '{name}': expected one of {', '.join(list_presets())} or a YAML path"
            )
        text = resource.read_text(encoding="utf-8")
        source, preset_name = f"preset '{name}'", name
    try:
        layer = yaml.safe_load(text)
    except yaml.YAMLError as problem:
        raise ConfigError(f"{source}: not valid YAML ({' '.join(str(problem).split())})") from None
    if layer is None:
        layer = {}
    if not isinstance(layer, dict):
        raise ConfigError(f"{source}: expected a mapping of configuration sections at the top level")
    return layer, source, preset_name


def _merge_layer(
    target: dict[str, Any], layer: Mapping[str, Any], schema: type, source: str, prefix: str
) -> None:
    """Deep-merge ``layer`` into ``target``, rejecting keys that ``schema`` does not have."""
    hints = typing.get_type_hints(schema)
    for key, value in layer.items():
        dotted = f"{prefix}{key}"
        if key not in hints:
            raise ConfigError(f"{source}: unknown key '{dotted}'; valid keys: {', '.join(hints)}")
        hint = hints[key]
        if isinstance(hint, type) and dataclasses.is_dataclass(hint) and isinstance(value, Mapping):
            _merge_layer(target[key], value, hint, source, prefix=f"{dotted}.")
        else:
            target[key] = value


def _apply_override(data: dict[str, Any], override: str) -> None:
    """Apply one ``a.b=c`` override to the nested dict ``data``."""
    key, separator, text = override.partition("=")
    key = key.strip()
    if not separator or not key:
        raise ConfigError(f"override '{override}': expected the form section.key=value")
    schema: type = Config
    node = data
    parts = key.split(".")
    for depth, part in enumerate(parts):
        hints = typing.get_type_hints(schema)
        dotted = ".".join(parts[: depth + 1])
        if part not in hints:
            scope = ".".join(parts[:depth]) or "the top level"
            raise ConfigError(
                f"override '{override}': unknown key '{dotted}'; valid keys in {scope}: {', '.join(hints)}"
            )
        hint = hints[part]
        if depth == len(parts) - 1:
            if dataclasses.is_dataclass(hint):
                raise ConfigError(f"override '{override}': '{dotted}' is a section; set one of its keys")
            node[part] = _parse_override_value(text, hint, override)
            return
        if not (isinstance(hint, type) and dataclasses.is_dataclass(hint)):
            raise ConfigError(f"override '{override}': '{dotted}' is a value, not a section")
        schema = hint
        node = node[part]


def _parse_override_value(text: str, hint: Any, override: str) -> Any:
    """Turn the text of an override into a value: raw text for strings, YAML otherwise."""
    stripped = text.strip()
    if _accepts_str(hint) and stripped not in ("null", "~"):
        return text
    try:
        return yaml.safe_load(stripped) if stripped else None
    except yaml.YAMLError:
        raise ConfigError(f"override '{override}': value '{text}' is not valid YAML") from None


def _accepts_str(hint: Any) -> bool:
    """Whether a type hint is ``str`` or an optional ``str``."""
    if hint is str:
        return True
    return _is_union(hint) and str in typing.get_args(hint)


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def _build(schema: type, data: Any, source: str, prefix: str) -> Any:
    """Instantiate dataclass ``schema`` from mapping ``data`` with checked, converted values."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: config key '{prefix.rstrip('.') or '(top level)'}': expected a mapping")
    hints = typing.get_type_hints(schema)
    unknown = [key for key in data if key not in hints]
    if unknown:
        raise ConfigError(f"{source}: unknown key '{prefix}{unknown[0]}'; valid keys: {', '.join(hints)}")
    values = {key: _convert(value, hints[key], source, f"{prefix}{key}") for key, value in data.items()}
    try:
        return schema(**values)
    except ConfigError as problem:
        raise ConfigError(f"{source}: {problem}") from None


def _convert(value: Any, hint: Any, source: str, key: str) -> Any:
    """Check ``value`` against type ``hint`` and convert it (lists to tuples, ints to floats)."""
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value, source, prefix=f"{key}.")
    origin = typing.get_origin(hint)
    arguments = typing.get_args(hint)
    if origin is typing.Literal:
        if value in arguments and type(value) is type(arguments[0]):
            return value
        raise _type_error(source, key, f"one of {', '.join(map(str, arguments))}", value)
    if _is_union(hint):
        if value is None and _NONE_TYPE in arguments:
            return None
        candidates = [argument for argument in arguments if argument is not _NONE_TYPE]
        if len(candidates) == 1:
            return _convert(value, candidates[0], source, key)
        for candidate in candidates:
            try:
                return _convert(value, candidate, source, key)
            except ConfigError:
                continue
        raise _type_error(source, key, _describe(hint), value)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise _type_error(source, key, _describe(hint), value)
        if len(arguments) == 2 and arguments[1] is Ellipsis:
            return tuple(_convert(item, arguments[0], source, key) for item in value)
        if len(value) != len(arguments):
            raise _type_error(source, key, _describe(hint), value)
        return tuple(
            _convert(item, item_hint, source, key) for item, item_hint in zip(value, arguments, strict=True)
        )
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise _type_error(source, key, "true or false", value)
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _type_error(source, key, "an integer", value)
    if hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise _type_error(source, key, "a number", value)
    if hint is str:
        if isinstance(value, str):
            return value
        raise _type_error(source, key, "a string", value)
    raise ConfigError(f"{source}: config key '{key}' has an unsupported type {hint!r}")


def _describe(hint: Any) -> str:
    """A short human description of a type hint for error messages."""
    if _is_union(hint):
        return " or ".join(_describe(argument) for argument in typing.get_args(hint))
    if hint is _NONE_TYPE:
        return "null"
    if typing.get_origin(hint) is tuple:
        arguments = typing.get_args(hint)
        if len(arguments) == 2 and arguments[1] is Ellipsis:
            return f"a list of {_describe(arguments[0])}"
        return f"a list of {len(arguments)} values"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(hint, str(hint))


def _type_error(source: str, key: str, expected: str, value: Any) -> ConfigError:
    return ConfigError(f"{source}: config key '{key}': expected {expected}, got {value!r}")
