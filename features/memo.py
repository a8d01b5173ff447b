"""Intermediates shared by builders: a function of a frame computed once per frame, for as long as it lives.

Several builders of one bucket need the same intermediate of the same table (a time window's rows, a window's
purchase days, each visit's next purchase, each customer's manager departure): :func:`per_frame` computes it for
the first and hands the same result to the others. Results are keyed by the identity of the frames passed (a
frame is never changed in place here, so the same frame object means the same contents) and by the other
arguments; they go when the first frame goes, so a bucket's intermediates are freed with the bucket. Arrays in a
result are made read-only, so no caller can change what another one reads.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import pandas as pd

Result = TypeVar("Result")


def per_frame(function: Callable[..., Result]) -> Callable[..., Result]:
    """``function(frame, *args)`` memoised per frame (by identity) and arguments (frames among them by identity,
    the others by value: they must be hashable)."""
    entries: dict[int, tuple[weakref.ref, dict]] = {}

    def forget(key: int, reference: weakref.ref) -> None:
        if key in entries and entries[key][0] is reference:
            del entries[key]

    @functools.wraps(function)
    def memoised(frame: pd.DataFrame, *args, **kwargs):
        key = id(frame)
        entry = entries.get(key)
        if entry is None or entry[0]() is not frame:
            reference = weakref.ref(frame, lambda reference, key=key: forget(key, reference))
            entry = entries[key] = (reference, {})
        frames = [a for a in args if isinstance(a, pd.DataFrame)]
        arguments = (tuple(id(a) if isinstance(a, pd.DataFrame) else a for a in args), tuple(sorted(kwargs.items())))
        hit = entry[1].get(arguments)
        # A frame argument matches only while it is the very object the result was computed from.
        if hit is not None and all(ref() is a for ref, a in zip(hit[0], frames)):
            return hit[1]
        result = _read_only(function(frame, *args, **kwargs))
        entry[1][arguments] = ([weakref.ref(a) for a in frames], result)
        return result

    return memoised


def _read_only(result):
    if isinstance(result, np.ndarray):
        result.flags.writeable = False
    elif isinstance(result, tuple):
        for part in result:
            _read_only(part)
    return result
