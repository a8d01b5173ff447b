"""conforms(): the fast path's whole-column checks on typed Arrow tables, for numbers and their ranges with nulls,
NaN, infinities and chunks (each case worked out from the contract's rules)."""

from __future__ import annotations

import math

import pyarrow as pa
import pytest

from pipeline.contract import InputLimits, TypedTable, conforms

LIMITS = InputLimits(now=None, max_abs_value=1000.0)


def transactions(amount: list, list_amount: list | None = None) -> TypedTable:
    """Transactions with these amounts (and list amounts, when given): two chunks, the split after the first
    row, as a reader hands over row groups."""
    n = len(amount)
    columns = {
        "customer_id": [f"c{i}" for i in range(n)],
        "timestamp": [pa.scalar(1_700_000_000 * 10**9 + i, pa.timestamp("ns")).as_py() for i in range(n)],
        "amount": amount,
    }
    types = {"customer_id": pa.string(), "timestamp": pa.timestamp("ns"), "amount": pa.float64()}
    if list_amount is not None:
        columns["list_amount"], types["list_amount"] = list_amount, pa.float64()
    table = pa.table({c: pa.array(v, types[c]) for c, v in columns.items()})
    chunked = pa.concat_tables([table.slice(0, 1), table.slice(1)])
    assert chunked["amount"].num_chunks == 2
    return TypedTable("transactions.parquet", chunked, 1)


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ([1.0, -2.5, 1000.0], True),  # -2.5 is a refund; 1000 is at the limit, not beyond
        ([-1000.0, 3.0], True),  # the largest magnitude at the low end, on the limit
        ([5.0, -1000.5], False),  # beyond the limit below zero
        ([5.0, 1000.5], False),  # beyond it above
        ([3.0, math.nan], False),  # NaN is no number
        ([1.0, math.inf], False),
        ([-math.inf, 1.0], False),
    ],
)
def test_amounts_conform_when_finite_and_within_the_limit(amount, expected):
    assert conforms("transactions", transactions(amount), LIMITS) is expected


@pytest.mark.parametrize(
    ("list_amount", "expected"),
    [
        ([None, None, None], True),  # an optional number may be wholly empty
        ([None, 999.0, None], True),  # nulls skipped
        ([None, None, 1000.5], False),  # nulls skipped, the limit still applies
        ([math.nan, None, 1.0], False),
    ],
)
def test_nulls_are_skipped_by_the_magnitude_check(list_amount, expected):
    assert conforms("transactions", transactions([1.0, 2.0, 3.0], list_amount), LIMITS) is expected


def test_a_required_amount_may_not_be_empty():
    assert not conforms("transactions", transactions([1.0, None, 2.0]), LIMITS)


@pytest.mark.parametrize(
    ("list_amount", "expected"),
    [
        ([None, 0.0, 3.0], True),  # list_amount >= 0: zero holds, nulls pass
        ([2.0, None, -0.5], False),
        ([None, None, -1e-9], False),  # the only value, in the last chunk
    ],
)
def test_a_range_check_reads_every_chunk_and_skips_nulls(list_amount, expected):
    assert conforms("transactions", transactions([1.0, 2.0, 3.0], list_amount), LIMITS) is expected
