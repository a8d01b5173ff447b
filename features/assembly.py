"""Assembly: the feature table at one as_of, one row per active customer, from the registry's builders.

Output: a column ``customer_id`` (str) first, then every feature in registry order; one row per customer
active at as_of, sorted by customer_id, RangeIndex. Numeric features are float64, categorical ones str; a
customer without the events a feature needs gets the feature's default, so the table holds no NaN.
"""

from __future__ import annotations

import functools
import inspect
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from features.aggregate import CUSTOMER_ID
from features.cutoff import active_customers, customers_before, events_before, window_rows
from features.kernels import place_by_code
from features.price import combine_price_cells, price_change_cells, price_rises_from_cells
from features.registry import CATEGORICAL, FeatureSpec, feature_specs
from features.settings import ChurnDefinition, FeatureSettings
from features.tables import PreparedTables, as_timestamp, require_prepared
from features.wallet import peer_group_spend, peer_group_wallets_from_spend


@dataclass(frozen=True)
class GlobalStats:
    """Cross-customer statistics at one as_of, from its pre-cutoff slice; computed once, shared by buckets."""

    as_of: pd.Timestamp
    peer_wallets: pd.Series
    overall_wallet: float
    price_rises: pd.Series


@dataclass(frozen=True)
class GlobalStatsPart:
    """What one group of customers contributes to the :class:`GlobalStats` at one as_of: the spend of its
    customers with their peer groups, and its price-change cells. Small next to the events they summarise."""

    as_of: pd.Timestamp
    peer_spend: pd.DataFrame
    price_cells: pd.DataFrame


def global_stats_part(tables: PreparedTables, as_of, settings: FeatureSettings) -> GlobalStatsPart:
    """The contribution of ``tables``' customers to the statistics at ``as_of``, from the events before it."""
    as_of, tables = as_timestamp(as_of), require_prepared(tables)
    # Only transactions of the longest lookback matter, and that window ends before as_of: selecting it is the
    # cut, and copies far fewer rows than events_before would.
    lookback = max(settings.wallet_window_days, settings.price_history_days)
    transactions = window_rows(tables.transactions, "timestamp", end=as_of, days=lookback)
    # The price cells' compiled loop releases the GIL: it runs beside the peer spend's pandas work.
    with ThreadPoolExecutor(1) as pool:
        cells = pool.submit(
            price_change_cells,
            transactions,
            as_of=as_of,
            period_days=settings.price_period_days,
            history_days=settings.price_history_days,
        )
        peer_spend = peer_group_spend(
            transactions,
            customers_before(tables.customers, as_of),
            as_of=as_of,
            window_days=settings.wallet_window_days,
            peer_group_column=settings.peer_group_column,
        )
        return GlobalStatsPart(as_of, peer_spend, cells.result())


def combine_global_stats(parts: list[GlobalStatsPart], settings: FeatureSettings) -> GlobalStats:
    """The statistics of every customer from the parts of disjoint groups of customers (any split: the same)."""
    as_of = parts[0].as_of
    if any(part.as_of != as_of for part in parts):
        raise ValueError("statistics parts of different as-of dates cannot be combined")
    spend = pd.concat([part.peer_spend for part in parts], ignore_index=True)
    peer_wallets, overall_wallet = peer_group_wallets_from_spend(
        spend,
        peer_group_column=settings.peer_group_column,
        quantile=settings.wallet_quantile,
        min_group_size=settings.wallet_min_peer_group_size,
    )
    price_rises = price_rises_from_cells(
        combine_price_cells([part.price_cells for part in parts]),
        as_of=as_of,
        period_days=settings.price_period_days,
        min_share=settings.price_rise_min_share,
        lookback_days=settings.price_rise_lookback_days,
        min_observations=settings.price_min_observations,
    )
    return GlobalStats(as_of, peer_wallets, overall_wallet, price_rises)


def compute_global_stats(tables: PreparedTables, as_of, settings: FeatureSettings) -> GlobalStats:
    """Peer-group wallets and category price rises at ``as_of``, from the events before it."""
    return combine_global_stats([global_stats_part(tables, as_of, settings)], settings)


@functools.cache
def _parameters(builder) -> tuple[inspect.Parameter, ...]:
    return tuple(inspect.signature(builder).parameters.values())


def _call(spec: FeatureSpec, sources: dict, as_of: pd.Timestamp) -> pd.Series:
    """Run one builder: positional inputs by parameter name, ``as_of`` if it takes it, then its params."""
    args, kwargs = [], dict(spec.params)
    for parameter in _parameters(spec.builder):
        if parameter.kind is parameter.KEYWORD_ONLY:
            if parameter.name == "as_of":
                kwargs["as_of"] = as_of
            continue
        source = spec.inputs.get(parameter.name, parameter.name)
        if source not in sources:
            raise KeyError(f"feature {spec.name}: no input named {source!r} (is it listed after its inputs?)")
        args.append(sources[source])
    return spec.builder(*args, **kwargs)


def _rows_of_slots(population: pd.Index) -> np.ndarray | None:
    """For a categorical population, each customer slot's row in it (its length: not in the population)."""
    if not isinstance(population, pd.CategoricalIndex):
        return None
    row_of = np.full(len(population.categories), len(population), dtype=np.int64)
    row_of[population.codes] = np.arange(len(population))
    return row_of


def _align(values: pd.Series, population: pd.Index, row_of: np.ndarray | None, default):
    """The builder's values in population order, the default where a customer has none (a float array, or a
    string array for text features). ``row_of``: :func:`_rows_of_slots` of the population.

    Builders given categorical ids return a CategoricalIndex over the same ids: placed by code, no hashing.
    Anything else (e.g. an empty result) is aligned by value.
    """
    index = values.index
    if row_of is not None and isinstance(index, pd.CategoricalIndex) and index.categories.equals(population.categories):
        if isinstance(default, str):
            position = np.full(len(population.categories), -1)
            position[index.codes] = np.arange(len(values))
            return values.array.take(position[population.codes], allow_fill=True).fillna(default)
        return place_by_code(index.codes, values.to_numpy(dtype="float64"), row_of, len(population), default)
    aligned = values.reindex(pd.Index(population.astype("str")))
    return aligned.fillna(default).to_numpy()


def _read_by_later_features(specs: list[FeatureSpec]) -> frozenset[str]:
    """Names of the features that some other feature takes as input."""
    return frozenset(
        spec.inputs.get(parameter.name, parameter.name)
        for spec in specs
        for parameter in _parameters(spec.builder)
        if parameter.kind is not parameter.KEYWORD_ONLY
    )


def feature_columns(
    tables: PreparedTables,
    as_of,
    settings: FeatureSettings,
    churn: ChurnDefinition,
    *,
    global_stats: GlobalStats | None = None,
) -> tuple[pd.CategoricalIndex | pd.Index, dict[str, np.ndarray | pd.api.extensions.ExtensionArray]]:
    """The active customers at ``as_of`` (sorted) and every feature's values in their order: what
    :func:`build_feature_table` puts in a frame (float arrays; text features as string arrays)."""
    as_of, tables = as_timestamp(as_of), require_prepared(tables)
    stats = global_stats if global_stats is not None else compute_global_stats(tables, as_of, settings)
    if stats.as_of != as_of:
        raise ValueError(f"global_stats are for {stats.as_of.date()}, not for as_of {as_of.date()}")
    cut = events_before(tables, as_of)
    population = active_customers(cut.transactions, as_of, churn.active_window_days)
    sources = dict(cut.items()) | {f.name: getattr(stats, f.name) for f in fields(stats)}
    specs = feature_specs(settings)
    read_later = _read_by_later_features(specs)
    row_of = _rows_of_slots(population)
    columns = {}
    for spec in specs:
        column = _align(_call(spec, sources, as_of), population, row_of, spec.default)
        columns[spec.name] = pd.array(column, dtype="str") if spec.kind == CATEGORICAL else column
        if spec.name in read_later:
            sources[spec.name] = pd.Series(columns[spec.name], index=population, name=spec.name, copy=False)
    check_feature_columns(columns, specs)
    return population, columns


class FeatureTableError(ValueError):
    """A builder returned values the registry does not allow (a bug in the builder, not in the data)."""


def check_feature_columns(columns: dict, specs: list[FeatureSpec]) -> None:
    """Every feature in its registry dtype (numeric: float64, categorical: str) and never missing: each has a
    default for customers without the events it needs, so a NaN is a builder's mistake."""
    problems = []
    for spec in specs:
        values = columns[spec.name]
        if spec.kind == CATEGORICAL:
            wrong_type, missing = str(values.dtype) != "str", int(pd.isna(values).sum())
        else:
            wrong_type = not (isinstance(values, np.ndarray) and values.dtype == np.float64)
            missing = 0 if wrong_type else int(np.isnan(values).sum())
        if wrong_type:
            problems.append(f"{spec.name} is {values.dtype}, not {'str' if spec.kind == CATEGORICAL else 'float64'}")
        elif missing:
            problems.append(f"{spec.name} has {missing} missing value(s)")
    if problems:
        raise FeatureTableError("the feature table breaks the registry: " + "; ".join(problems))


def build_feature_table(
    tables: PreparedTables,
    as_of,
    settings: FeatureSettings,
    churn: ChurnDefinition,
    *,
    global_stats: GlobalStats | None = None,
) -> pd.DataFrame:
    """Point-in-time features of every customer active at ``as_of``, from events strictly before it.

    Args:
        tables: conformed input tables (may hold events after as_of: they are cut here).
        as_of: the cutoff date.
        settings: windows and thresholds of the builders.
        churn: defines who is active (``active_window_days``).
        global_stats: cross-customer statistics at as_of; computed from ``tables`` when not given (pass them
            when ``tables`` is one bucket of customers).
    """
    population, columns = feature_columns(tables, as_of, settings, churn, global_stats=global_stats)
    return pd.DataFrame({CUSTOMER_ID: pd.array(population.astype("str"), dtype="str"), **columns})
