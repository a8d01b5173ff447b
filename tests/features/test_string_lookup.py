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


def test_long_ids_told_apart_past_their_second_eight_bytes():
    keys = pa.array(["customer-0000000001", "customer-0000000002", "customer-00000000"], type=pa.large_string())
    column = pa.chunked_array([["customer-0000000002", "customer-00000000", "customer-0000000001"]])
    assert lookup_strings([column], keys)[0].tolist() == [1, 2, 0]
    assert lookup_strings([pa.chunked_array([["customer-0000000003"]])], keys) is None


def test_few_labels_coded_in_order_of_first_appearance_with_nulls_minus_one():
    from features.string_lookup import encode_few_labels

    # "electronics1"/"electronics2" share length and first eight bytes; "" and "a" meet the short paths
    values = pa.array(["toys", None, "electronics1", "toys", "", "electronics2", "a", "electronics1"])
    codes, first_rows = encode_few_labels(values)
    assert codes.tolist() == [0, -1, 1, 0, 2, 3, 4, 1]
    assert first_rows.tolist() == [0, 2, 4, 5, 6]
    many = pa.array([f"label{i}" for i in range(257)])
    assert encode_few_labels(many) is None
    assert encode_few_labels(pa.chunked_array([many[:256], many[:10]]))[0].tolist() == list(range(256)) + list(range(10))
