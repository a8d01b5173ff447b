"""Position of each string of a column in a set of distinct strings: a compiled hash table over Arrow buffers.

Customer ids arrive as strings, tens of millions of them in the event tables; every feature works on their
integer codes. pandas factorises them in one thread and pyarrow's ``index_in`` spends ~300 ns per id on this
machine; here each id is hashed from the raw UTF-8 bytes of the Arrow array and found in an open-addressing
table whose slots hold the key's hash, length and first eight bytes, so an id of up to eight bytes is matched
in one memory access, a longer one confirmed against the key's remaining bytes. Chunks of rows run in
parallel threads (the loops release the GIL).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
from numba import njit

_FIBONACCI = np.uint64(0x9E3779B97F4A7C15)
_FNV_PRIME = np.uint64(0x100000001B3)
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_ALL_BITS = np.uint64(0xFFFFFFFFFFFFFFFF)
# Slot layout: hash, code (-1: empty), length, first eight bytes (little-endian, zero-padded).
_HASH, _CODE, _LENGTH, _PREFIX = 0, 1, 2, 3


@njit(inline="always")
def _eight_bytes(data, start):
    # Spelled out, so the compiler reads the eight bytes in one load.
    return (
        np.uint64(data[start])
        | (np.uint64(data[start + 1]) << np.uint64(8))
        | (np.uint64(data[start + 2]) << np.uint64(16))
        | (np.uint64(data[start + 3]) << np.uint64(24))
        | (np.uint64(data[start + 4]) << np.uint64(32))
        | (np.uint64(data[start + 5]) << np.uint64(40))
        | (np.uint64(data[start + 6]) << np.uint64(48))
        | (np.uint64(data[start + 7]) << np.uint64(56))
    )


@njit(inline="always")
def _word(data, start, end):
    """Up to eight bytes ``data[start:end]`` as one little-endian integer (missing bytes zero)."""
    length = end - start
    if length >= 8:
        return _eight_bytes(data, start)
    if start + 8 <= data.shape[0]:  # one load, the bytes past end masked off (no loop whose length varies)
        keep = np.uint64(0) if length <= 0 else _ALL_BITS >> np.uint64(64 - 8 * length)
        return _eight_bytes(data, start) & keep
    word = np.uint64(0)
    for j in range(start, min(end, start + 8)):
        word |= np.uint64(data[j]) << np.uint64(8 * (j - start))
    return word


@njit(inline="always")
def _hash(data, start, end, prefix):
    """A 64-bit hash of ``data[start:end]`` whose first eight bytes are ``prefix`` (:func:`_word`)."""
    h = ((_FNV_OFFSET ^ np.uint64(end - start)) ^ prefix) * _FNV_PRIME
    h ^= h >> np.uint64(32)
    for j in range(start + 8, end, 8):
        h = (h ^ _word(data, j, end)) * _FNV_PRIME
        h ^= h >> np.uint64(32)
    h *= _FIBONACCI
    return h ^ (h >> np.uint64(29))


@njit(nogil=True, cache=True)
def _fill_table(offsets, data, table, shift):
    mask = table.shape[0] - 1
    for i in range(offsets.shape[0] - 1):
        start, end = offsets[i], offsets[i + 1]
        prefix = _word(data, start, end)
        h = _hash(data, start, end, prefix)
        slot = np.int64(h >> np.uint64(shift))
        while table[slot, _CODE] >= 0:
            slot = (slot + 1) & mask
        table[slot, _HASH] = np.int64(h)
        table[slot, _CODE] = i
        table[slot, _LENGTH] = end - start
        table[slot, _PREFIX] = np.int64(prefix)


@njit(inline="always")
def _same_tail(data, start, end, key_data, key_start):
    """Whether the bytes after the first eight of ``data[start:end]`` equal the key's (same length)."""
    for j in range(8, end - start):
        if data[start + j] != key_data[key_start + j]:
            return False
    return True


_BATCH = 64


@njit(nogil=True, cache=True)
def _find(offsets, data, key_offsets, key_data, table, shift, out):
    # Rows go in batches: first every hash and home slot of the batch, then the probes. The probes of a batch
    # then hold no dependency on each other, so the processor has several table reads in flight at once instead
    # of waiting for each cache miss in turn.
    mask = table.shape[0] - 1
    missing = 0
    hashes = np.empty(_BATCH, dtype=np.int64)
    prefixes = np.empty(_BATCH, dtype=np.int64)
    slots = np.empty(_BATCH, dtype=np.int64)
    for batch in range(0, out.shape[0], _BATCH):
        size = min(_BATCH, out.shape[0] - batch)
        for b in range(size):
            start, end = offsets[batch + b], offsets[batch + b + 1]
            unsigned_prefix = _word(data, start, end)
            h = _hash(data, start, end, unsigned_prefix)
            hashes[b] = np.int64(h)
            prefixes[b] = np.int64(unsigned_prefix)
            slots[b] = np.int64(h >> np.uint64(shift))
        for b in range(size):
            i = batch + b
            start, end = offsets[i], offsets[i + 1]
            length = end - start
            h, prefix, slot = hashes[b], prefixes[b], slots[b]
            code = -1
            while table[slot, _CODE] >= 0:
                if table[slot, _HASH] == h and table[slot, _LENGTH] == length and table[slot, _PREFIX] == prefix:
                    candidate = table[slot, _CODE]
                    if length <= 8 or _same_tail(data, start, end, key_data, key_offsets[candidate]):
                        code = candidate
                        break
                slot = (slot + 1) & mask
            out[i] = code
            missing += code < 0
    return missing


def _buffers(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (int64, one more than rows) and UTF-8 bytes of a string array, without copying large strings."""
    array = array.cast(pa.large_string())
    _, offsets, data = array.buffers()
    offsets = np.frombuffer(offsets, dtype=np.int64)[array.offset: array.offset + len(array) + 1]
    return offsets, np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, dtype=np.uint8)


def lookup_strings(
    columns: list[pa.ChunkedArray], keys: pa.Array, *, missing_code: bool = False
) -> list[np.ndarray] | None:
    """For each column, the int32 position in ``keys`` (distinct strings) of every value.

    None when some value is null or not among the keys (the caller then falls back to a factorisation); with
    ``missing_code`` a value not among the keys gets -1 instead (nulls are then refused).
    """
    if len(keys) >= np.iinfo(np.int32).max:
        return None
    if any(column.null_count for column in columns):
        if missing_code:
            raise ValueError("ids to look up may not be null")
        return None
    key_offsets, key_data = _buffers(keys)
    bits = max(int(np.ceil(np.log2(max(2 * len(keys), 2)))), 1)
    table = np.full((1 << bits, 4), -1, dtype=np.int64)
    _fill_table(key_offsets, key_data, table, 64 - bits)
    threads = os.cpu_count() or 1
    outputs, jobs = [], []
    for column in columns:
        out = np.empty(len(column), dtype=np.int32)
        outputs.append(out)
        at = 0
        for chunk in column.chunks:
            offsets, data = _buffers(chunk)
            step = max(1, -(-len(chunk) // threads))
            for start in range(0, len(chunk), step):
                stop = min(start + step, len(chunk))
                jobs.append((offsets[start: stop + 1], data, out[at + start: at + stop]))
            at += len(chunk)
    with ThreadPoolExecutor(threads) as pool:
        missing = list(
            pool.map(lambda job: _find(job[0], job[1], key_offsets, key_data, table, 64 - bits, job[2]), jobs)
        )
    return None if sum(missing) and not missing_code else outputs


_MAX_LABELS = 256  # more distinct values than this: not a label column, left to Arrow's dictionary encoding
_LABEL_SLOTS = 1024  # a power of two, four times the labels: the table stays in the first-level cache


@njit(nogil=True, cache=True)
def _encode_loop(offsets, data, valid, use_valid, codes, table, first_row):
    # Slots: prefix, length, code (-1: empty). Returns the number of distinct values, or -1 past _MAX_LABELS.
    mask = table.shape[0] - 1
    n_distinct = 0
    for i in range(codes.shape[0]):
        if use_valid and not valid[i]:
            codes[i] = -1
            continue
        start, end = offsets[i], offsets[i + 1]
        length = end - start
        prefix = _word(data, start, end)
        slot = np.int64(((prefix ^ np.uint64(length)) * _FIBONACCI) >> np.uint64(54))
        while True:
            code = table[slot, 2]
            if code < 0:
                if n_distinct == first_row.shape[0]:
                    return -1
                table[slot, 0] = np.int64(prefix)
                table[slot, 1] = length
                table[slot, 2] = n_distinct
                first_row[n_distinct] = i
                codes[i] = n_distinct
                n_distinct += 1
                break
            if table[slot, 0] == np.int64(prefix) and table[slot, 1] == length and (
                length <= 8 or _same_tail(data, start, end, data, offsets[first_row[code]])
            ):
                codes[i] = code
                break
            slot = (slot + 1) & mask
    return n_distinct


def encode_few_labels(array: pa.Array) -> tuple[np.ndarray, np.ndarray] | None:
    """A string column of few distinct values (at most 256) as int32 codes (-1 for null) in order of first
    appearance, and the row where each distinct value first appears. One compiled pass with a table that stays
    in cache (Arrow's dictionary encoding hashes each value in full). None when there are more distinct values."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    offsets, data = _buffers(array)
    valid = np.zeros(0, dtype=np.bool_)
    if array.null_count:
        valid = array.is_valid().to_numpy(zero_copy_only=False)
    codes = np.empty(len(array), dtype=np.int32)
    table = np.full((_LABEL_SLOTS, 3), -1, dtype=np.int64)
    first_row = np.empty(_MAX_LABELS, dtype=np.int64)
    n_distinct = _encode_loop(offsets, data, valid, array.null_count > 0, codes, table, first_row)
    return None if n_distinct < 0 else (codes, first_row[:n_distinct])
