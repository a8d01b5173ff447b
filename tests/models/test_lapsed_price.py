"""The lapsed list's price reason on hand-made worlds: a rise of the list prices of the categories a customer
bought, seen across all customers (a category price index), weighted by their spend; a dearer item bought in a
category whose list prices held is no rise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features import make_tables, prepare_tables
from features.price import PRICE_TICKS_PER_UNIT, combine_price_index_cells, price_index_cells
from models.bgnbd import BgNbdParams
from models.lapsed import LapsedSettings, lapsed_customers

AS_OF = pd.Timestamp("2024-06-03")
# Periods of 30 days back from as_of: period 2 is [-90, -60) days, 2024-03-05 to 2024-04-03; period 3 holds 03-01.
SETTINGS = LapsedSettings(active_window_days=30, lookback_days=60, value_window_days=100, horizon_days=30,
                          margin_rate=0.5, decline_window_days=20, price_rise_min_share=0.05,
                          stale_complaint_days=40, top_reasons=3, price_period_days=30, price_min_observations=3)
PARAMS = BgNbdParams(r=1.0, alpha=5.0, a=1.0, b=3.0)
COLUMNS = ["customer_id", "timestamp", "amount", "list_amount", "quantity", "category"]


def panel(prefix: str, n: int, category: str, before: float, after: float) -> list[tuple]:
    """n customers who buy the category on 03-01 at ``before`` and on 03-31 (period 2, 30 days later) at
    ``after``, and something without a list price on 05-25 (so they are still active)."""
    rows = []
    for i in range(n):
        who = f"{prefix}{i:02d}"
        rows += [(who, "2024-03-01", before, before, 1.0, category), (who, "2024-03-31", after, after, 1.0, category),
                 (who, "2024-05-25", 5.0, None, None, "snacks")]
    return rows


def tables_of(rows: list[tuple]):
    tx = pd.DataFrame(rows, columns=COLUMNS)
    tx["timestamp"] = pd.to_datetime(tx["timestamp"])
    return prepare_tables(make_tables({"transactions": tx}))


def reasons(rows: list[tuple]) -> pd.Series:
    lapsed = lapsed_customers(tables_of(rows), AS_OF, SETTINGS, PARAMS)
    return lapsed.set_index("customer_id")["reasons"]


# Tools' list price rose 10% between 03-01 and 03-31 for everybody; paint's held at 20.
RISE_WORLD = [
    *panel("t", 3, "tools", 10.0, 11.0),
    *panel("p", 3, "paint", 20.0, 20.0),
    # x bought tools once, on 04-05 (period 1): the 100 days up to it hold all of period 2, so tools rose 10%.
    ("x", "2024-04-05", 11.0, 11.0, 1.0, "tools"),
    # y spent as much on tools as on paint: log change 0.5 x log(1.1), a rise of 4.9%, under the 5% minimum.
    ("y", "2024-04-05", 100.0, 100.0, 10.0, "tools"),
    ("y", "2024-04-05", 100.0, 100.0, 5.0, "paint"),
    # z spent 3 times as much on tools: 0.75 x log(1.1), 1.1 ** 0.75 - 1 = 7.4%.
    ("z", "2024-04-05", 300.0, 300.0, 30.0, "tools"),
    ("z", "2024-04-05", 100.0, 100.0, 5.0, "paint"),
]


def test_price_index_cells_count_each_customers_consecutive_purchase_days():
    cells = price_index_cells(tables_of(RISE_WORLD).transactions, as_of=AS_OF, period_days=30, history_days=200)
    cells = cells.set_index(["category", "periods_back"])
    # Only the panels' 03-01 -> 03-31 pairs (later day in period 2); x, y and z bought each category once.
    assert list(cells.index) == [("paint", 2), ("tools", 2)]
    assert cells.loc[("tools", 2), "n_pairs"] == 3
    assert cells.loc[("tools", 2), "change_ticks"] == 3 * round(np.log(1.1) * PRICE_TICKS_PER_UNIT)
    assert cells.loc[("tools", 2), "covered_seconds"] == 3 * 30 * 86_400
    assert cells.loc[("paint", 2), "change_ticks"] == 0


def test_price_index_cells_of_groups_of_customers_add_up_to_the_whole():
    transactions = tables_of(RISE_WORLD).transactions
    whole = price_index_cells(transactions, as_of=AS_OF, period_days=30, history_days=200)
    first = transactions["customer_id"].astype("str").isin(["t00", "p01", "x", "z"])
    parts = [price_index_cells(transactions[part], as_of=AS_OF, period_days=30, history_days=200)
             for part in (first, ~first)]
    pd.testing.assert_frame_equal(combine_price_index_cells(parts), whole)


def test_a_list_price_rise_of_the_categories_bought_weighted_by_spend():
    said = reasons(RISE_WORLD)
    assert said["x"] == "list prices in the categories they bought rose 10% over the 3 months up to their last purchase"
    assert said["z"] == "list prices in the categories they bought rose 7% over the 3 months up to their last purchase"
    assert said["y"] == "no purchase for 59 days"  # 4.9%: under price_rise_min_share


def test_a_dearer_item_in_a_category_whose_prices_held_is_no_rise():
    # s paid 20 then 40 for paint (a dearer item), while 20 others paid 20 both times. Paint's period 2 then
    # moves log(2) / 21 per 30 days; s's last 100 days hold 27 days of it: 27 / 30 x log(2) / 21 = 3.0%, no reason.
    # (Comparing the first and last price s paid said "rose 100%".)
    world = [*panel("p", 20, "paint", 20.0, 20.0),
             ("s", "2024-03-01", 20.0, 20.0, 1.0, "paint"), ("s", "2024-03-31", 40.0, 40.0, 1.0, "paint")]
    said = reasons(world)
    assert said["s"] == "no purchase for 64 days (used to buy every 30 days)"


def test_too_few_repeat_purchases_say_nothing_about_prices():
    # Only 2 customers show tools rising: under price_min_observations (3), so nobody is told of a rise.
    said = reasons([*panel("t", 2, "tools", 10.0, 20.0), ("x", "2024-04-05", 11.0, 11.0, 1.0, "tools")])
    assert said["x"] == "no purchase for 59 days"


@pytest.mark.parametrize("missing", ["list_amount", "quantity", "category"])
def test_without_list_prices_there_is_no_price_reason(missing):
    tx = pd.DataFrame(RISE_WORLD, columns=COLUMNS).drop(columns=[missing])
    tx["timestamp"] = pd.to_datetime(tx["timestamp"])
    lapsed = lapsed_customers(prepare_tables(make_tables({"transactions": tx})), AS_OF, SETTINGS, PARAMS)
    assert not lapsed["reason_codes"].str.contains("price").any()
