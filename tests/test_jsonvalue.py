"""impl._jsonvalue: the guards accept exactly what JSON can produce for their container."""

from __future__ import annotations

import json

from hypothesis import given, strategies as st

from impl._jsonvalue import is_array, is_object

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(_JSON)
def test_parsed_json_is_an_object_or_array_exactly_when_it_is_a_dict_or_list(value: object) -> None:
    parsed: object = json.loads(json.dumps(value))
    assert is_object(parsed) == isinstance(parsed, dict)
    assert is_array(parsed) == isinstance(parsed, list)
    assert not (is_object(parsed) and is_array(parsed))


@given(st.dictionaries(st.text() | st.integers(), st.integers(), min_size=1))
def test_a_dict_with_a_key_that_is_not_a_string_is_no_json_object(value: dict[str | int, int]) -> None:
    assert is_object(value) == all(isinstance(key, str) for key in value)


def test_tuples_and_mappings_other_than_dict_are_neither() -> None:
    from types import MappingProxyType

    assert not is_array((1, 2))
    assert not is_object(MappingProxyType({"a": 1}))
    assert not is_object("{}") and not is_array("[]")
