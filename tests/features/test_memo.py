"""Per-frame memoisation: one computation per frame object and arguments, released with the frame."""

import gc
import weakref

import numpy as np
import pandas as pd
import pytest

from features.memo import per_frame

calls: list[tuple] = []


@per_frame
def total(frame: pd.DataFrame, column: str, *, scale: float = 1.0) -> np.ndarray:
    calls.append((id(frame), column, scale))
    return frame[column].to_numpy() * scale


@per_frame
def paired(first: pd.DataFrame, second: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    calls.append((id(first), id(second)))
    return first["a"].to_numpy() + 0, second["a"].to_numpy() + 0


@pytest.fixture(autouse=True)
def _no_calls():
    calls.clear()


def test_same_frame_and_arguments_compute_once():
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    first = total(frame, "a", scale=2.0)
    again = total(frame, "a", scale=2.0)
    assert again is first and first.tolist() == [2.0, 4.0]
    total(frame, "b", scale=2.0)
    total(frame, "a")
    assert len(calls) == 3  # (a, 2.0), (b, 2.0), (a, 1.0)


def test_an_equal_but_other_frame_is_computed_again():
    frame = pd.DataFrame({"a": [1.0]})
    copy = frame.copy()
    total(frame, "a")
    total(copy, "a")
    assert len(calls) == 2


def test_a_frame_argument_matches_only_the_same_object():
    first, second = pd.DataFrame({"a": [1.0]}), pd.DataFrame({"a": [5.0]})
    assert paired(first, second)[1].tolist() == [5.0]
    paired(first, second)
    other = pd.DataFrame({"a": [7.0]})
    assert paired(first, other)[1].tolist() == [7.0]
    assert len(calls) == 2


def test_results_are_read_only_and_go_with_the_frame():
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    result = total(frame, "a")
    with pytest.raises(ValueError):
        result[0] = 9.0
    released = weakref.ref(result)
    del frame, result
    gc.collect()
    assert released() is None
