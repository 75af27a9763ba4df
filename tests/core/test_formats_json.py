"""JSON reading: the same values as the standard library, its error positions, the collector paused."""

from __future__ import annotations

import gc
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from instanceformer.core.errors import FormatError
from instanceformer.core.formats.collector import paused_garbage_collection
from instanceformer.core.formats.jsonfile import parse_json_bytes

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
_DOCUMENTS = st.recursive(
    _SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(document=_DOCUMENTS, indent=st.sampled_from([None, 2]))
def test_values_equal_the_standard_library(document, indent) -> None:
    text = json.dumps(document, indent=indent)
    parsed = parse_json_bytes(text.encode("utf-8"), "doc.json")
    assert parsed == json.loads(text)
    assert json.dumps(parsed) == json.dumps(json.loads(text))  # same types: 1 stays int, 1.0 float


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[NaN, Infinity, -Infinity]", [math.nan, math.inf, -math.inf]),
        ("[1e400]", [math.inf]),
        ('["\\ud800"]', ["\ud800"]),
        ("\ufeff[1, 2]", [1, 2]),
    ],
)
def test_what_the_fast_parser_refuses_is_read_as_the_standard_library_reads_it(text, expected) -> None:
    parsed = parse_json_bytes(text.encode("utf-8", "surrogatepass"), "doc.json")
    assert len(parsed) == len(expected)
    for value, wanted in zip(parsed, expected, strict=True):
        assert value == wanted or (math.isnan(value) and math.isnan(wanted))


def test_syntax_errors_name_the_file_line_and_column() -> None:
    with pytest.raises(FormatError) as raised:
        parse_json_bytes(b'{"videos": [1,\n 2,, 3]}', "bad.json")
    assert str(raised.value).startswith("bad.json: line 2, column 4: expected valid JSON")


def test_collector_is_paused_inside_and_restored_after() -> None:
    assert gc.isenabled()
    with paused_garbage_collection():
        assert not gc.isenabled()
        with paused_garbage_collection():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()

    @paused_garbage_collection()
    def state() -> bool:
        return gc.isenabled()

    assert state() is False and gc.isenabled()
    gc.disable()
    try:
        with paused_garbage_collection():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
    with pytest.raises(ValueError), paused_garbage_collection():
        raise ValueError("inside")
    assert gc.isenabled()
