"""Typed access to the fields of one JSON record, with errors naming the file, record and field."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Literal, overload

from instanceformer.core.errors import FormatError

_MISSING = object()


def type_name(value: Any) -> str:
    """The JSON name of a parsed value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def describe(value: Any) -> str:
    """A short description of a parsed value: numbers and booleans as written, others by type."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return type_name(value)


def short_repr(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for quoting a bad value in a one-line message."""
    shown = repr(value)
    return shown if len(shown) <= limit else shown[:limit] + "..."


def is_integer(value: Any) -> bool:
    """True for a JSON integer (``bool`` excluded)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_finite_number(value: Any) -> bool:
    """True for a finite JSON number (``bool`` excluded; integers of any size are finite)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def only_types(values: Iterable[Any], *allowed: type) -> bool:
    """True when every value's exact type is one of ``allowed`` (subclasses such as ``bool`` excluded).

    One pass in C over any number of values: the bulk checks of whole files are built on it.
    """
    return set(map(type, values)) <= set(allowed)


def record_name(collection: str, index: int, record: Any) -> str:
    """``"videos[3] (id 12)"``, or ``"videos[3]"`` when the record has no integer id."""
    if isinstance(record, Mapping) and is_integer(record.get("id")):
        return f"{collection}[{index}] (id {record['id']})"
    return f"{collection}[{index}]"


class RecordFields:
    """Reads the fields of one record (a JSON object) of the file ``source``."""

    def __init__(self, source: str, record: str, value: Any):
        if not isinstance(value, dict):
            raise FormatError(source, record, None, f"expected an object, got {type_name(value)}")
        self.source = source
        self.record = record
        self.value: dict[str, Any] = value

    def error(self, field: str | None, expected: str) -> FormatError:
        """A FormatError located at ``field`` of this record."""
        return FormatError(self.source, self.record, field, expected)

    def get(self, key: str, default: Any = _MISSING) -> Any:
        """The raw value of ``key``; without ``default`` a missing key is an error."""
        if key in self.value:
            return self.value[key]
        if default is _MISSING:
            raise self.error(key, "expected this field, it is missing")
        return default

    def integer(self, key: str, *, minimum: int | None = None) -> int:
        """An integer field, optionally at least ``minimum``."""
        value = self.get(key)
        if not is_integer(value):
            raise self.error(key, f"expected an integer, got {describe(value)}")
        if minimum is not None and value < minimum:
            raise self.error(key, f"expected an integer >= {minimum}, got {value}")
        return value

    def number(self, key: str) -> float:
        """A finite number field (int or float)."""
        value = self.get(key)
        if not is_finite_number(value):
            raise self.error(key, f"expected a finite number, got {describe(value)}")
        return value

    def string(self, key: str) -> str:
        """A required string field."""
        value = self.get(key)
        if not isinstance(value, str):
            raise self.error(key, f"expected a string, got {describe(value)}")
        return value

    def optional_string(self, key: str) -> str | None:
        """A string field that may be missing or ``null`` (both read as ``None``)."""
        value = self.get(key, None)
        if value is not None and not isinstance(value, str):
            raise self.error(key, f"expected a string or null, got {describe(value)}")
        return value

    @overload
    def list_field(
        self, key: str, *, length: int | None = None, nullable: Literal[False] = False
    ) -> list[Any]: ...
    @overload
    def list_field(self, key: str, *, length: int | None = None, nullable: bool) -> list[Any] | None: ...
    def list_field(self, key: str, *, length: int | None = None, nullable: bool = False) -> list[Any] | None:
        """A list field, optionally of exactly ``length`` entries; ``null`` allowed when ``nullable``."""
        value = self.get(key)
        if value is None and nullable:
            return None
        if not isinstance(value, list):
            raise self.error(key, f"expected a list, got {type_name(value)}")
        if length is not None and len(value) != length:
            raise self.error(key, f"expected {length} entries (one per frame of the video), got {len(value)}")
        return value

    def extra(self, known: tuple[str, ...]) -> dict[str, Any]:
        """The fields other than ``known``, kept as they are so that writing the record back is lossless."""
        return {key: value for key, value in self.value.items() if key not in known}
