"""The compiled id lookup against positions worked out by hand."""

import pyarrow as pa

from features.string_lookup import lookup_strings

# Keys chosen to meet every path: the empty string, short ids, ids of exactly eight bytes, and long ids that
# share their first eight bytes (told apart only by the bytes after them), and a non-ASCII id.
KEYS = pa.array(["", "a", "bb", "abcdefgh", "abcdefghij", "abcdefghik", "kundé-001"], type=pa.large_string())


def test_every_value_gets_the_position_of_its_key():
    column = pa.chunked_array([["abcdefghik", "a", "", "abcdefghij"], ["kundé-001", "bb", "abcdefgh", "a"]])
    (codes,) = lookup_strings([column], KEYS)
    assert codes.tolist() == [5, 1, 0, 4, 6, 2, 3, 1]
    assert codes.dtype.name == "int32"


def test_several_columns_sliced_and_of_the_32_bit_string_type():
    first = pa.chunked_array([pa.array(["zz", "bb", "a", "abcdefgh"], type=pa.string()).slice(1, 3)])
    second = pa.chunked_array([], type=pa.string())
    codes = lookup_strings([first, second], KEYS)
    assert [c.tolist() for c in codes] == [[2, 1, 3], []]


def test_many_values_split_over_threads_keep_their_order():
    keys = pa.array([f"C{i:07d}" for i in range(1000)])
    values = [f"C{(i * 7919) % 1000:07d}" for i in range(50_001)]
    (codes,) = lookup_strings([pa.chunked_array([values[:20_000], values[20_000:]])], keys)
    assert codes.tolist() == [(i * 7919) % 1000 for i in range(50_001)]


def test_a_value_missing_from_the_keys_or_null_gives_none():
    # "abcdefghiX" has the first eight bytes and the length of two keys: only its last bytes differ.
    assert lookup_strings([pa.chunked_array([["a", "abcdefghiX"]])], KEYS) is None
    assert lookup_strings([pa.chunked_array([["a", "c"]])], KEYS) is None
    assert lookup_strings([pa.chunked_array([["a", None]])], KEYS) is None
