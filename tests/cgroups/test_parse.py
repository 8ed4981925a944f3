"""The control-file parsers: round trips of generated files, and any text either parses or is named."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from impl.shim.cgroups import (
    MAX_UINT64,
    CgroupFormatError,
    parse_blkio,
    parse_flat_keyed,
    parse_nested_keyed,
    parse_uint,
    parse_uint_list,
)

_u64 = st.integers(min_value=0, max_value=MAX_UINT64)
_key = st.from_regex(r"[a-z_][a-z0-9_.]{0,20}", fullmatch=True)


@given(st.dictionaries(_key, _u64))
def test_flat_keyed_round_trip(values: dict[str, int]) -> None:
    text = "".join(f"{k} {v}\n" for k, v in values.items())
    assert parse_flat_keyed("f", text) == values


@given(st.lists(st.tuples(_u64, _u64, st.dictionaries(_key.filter(lambda k: "=" not in k), _u64))))
def test_nested_keyed_round_trip(rows: list[tuple[int, int, dict[str, int]]]) -> None:
    text = "".join(f"{a}:{b} " + " ".join(f"{k}={v}" for k, v in d.items()) + "\n" for a, b, d in rows)
    assert parse_nested_keyed("f", text) == rows


@given(st.lists(st.tuples(_u64, _u64, st.sampled_from(["Read", "Write", "Sync", "Async", "Total"]), _u64)))
def test_blkio_round_trip(rows: list[tuple[int, int, str, int]]) -> None:
    text = "".join(f"{a}:{b} {op} {v}\n" for a, b, op, v in rows) + "Total 12\n"
    assert parse_blkio("f", text) == rows


@given(_u64, st.lists(_u64))
def test_single_values(value: int, values: list[int]) -> None:
    assert parse_uint("f", f"{value}\n") == value
    assert parse_uint("f", "max\n") == MAX_UINT64
    assert parse_uint_list("f", " ".join(map(str, values)) + " \n") == values


@given(st.text(max_size=200))
def test_any_text_parses_or_names_the_file(text: str) -> None:
    for parse in (parse_uint, parse_uint_list, parse_flat_keyed, parse_nested_keyed, parse_blkio):
        try:
            parse("/sys/fs/cgroup/x/some.file", text)
        except CgroupFormatError as e:
            assert str(e).startswith("/sys/fs/cgroup/x/some.file: line ")
