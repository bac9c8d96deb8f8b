"""Ids across chunks: which keys the file had on earlier lines (duplicates are rejected), and
ids derived from a row's content for order files without an order id.

The state is small: 64-bit hashes of the keys seen, sorted, not the keys themselves.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from segments.importing.cleaning import as_text

_HASH_KEY = "segcampaign-ids1"  # 16 bytes; changing it changes every derived order id


class _HashTable:
    """64-bit hashes of keys seen in earlier chunks, sorted, each with one integer.

    16 bytes a key, where a Python set of the id strings costs about 100: ten million
    order ids fit in 160 MB. Two different ids share a hash with odds of about one in
    10^8 for a million ids.
    """

    def __init__(self):
        self.hashes = np.empty(0, dtype=np.uint64)
        self.values = np.empty(0, dtype=np.int64)

    def get(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(found mask, positions): ``values[positions][found]`` are the values of the keys found."""
        if not len(self.hashes):
            return np.zeros(len(hashes), dtype=bool), np.zeros(len(hashes), dtype=np.intp)
        positions = np.empty(len(hashes), dtype=np.intp)
        # Sorted needles walk the table in order (cache friendly): sorting first pays for itself.
        order = np.argsort(hashes)
        positions[order] = np.searchsorted(self.hashes, hashes[order])
        positions = np.minimum(positions, len(self.hashes) - 1)
        return self.hashes[positions] == hashes, positions

    def values_of(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(found mask, the value of each key found and 0 for the others)."""
        found, positions = self.get(hashes)
        if not len(self.values):
            return found, positions  # all zeros
        return found, np.where(found, self.values[positions], 0)

    def insert(self, hashes: np.ndarray, values: np.ndarray) -> None:
        """Add keys that are not in the table yet (unique among themselves)."""
        if not len(hashes):
            return
        # Merge the new keys in at their places rather than sort the whole table again:
        # each new key goes after the old ones below it, the old keys fill the other slots.
        order = np.argsort(hashes)
        hashes, values = hashes[order], values[order]
        slots = np.searchsorted(self.hashes, hashes) + np.arange(len(hashes))
        old = np.ones(len(self.hashes) + len(hashes), dtype=bool)
        old[slots] = False
        merged_hashes, merged_values = np.empty(len(old), dtype=np.uint64), np.empty(len(old), dtype=np.int64)
        merged_hashes[slots], merged_hashes[old] = hashes, self.hashes
        merged_values[slots], merged_values[old] = values, self.values
        self.hashes, self.values = merged_hashes, merged_values


def _hash(text) -> np.ndarray:
    return pd.util.hash_array(np.asarray(text, dtype=object), categorize=False, hash_key=_HASH_KEY)


class FirstSeen:
    """For each key, the line where the file first had it: duplicates are rejected."""

    def __init__(self):
        self.table = _HashTable()

    def earlier_lines(self, keys: pd.Series, lines: np.ndarray, present: np.ndarray) -> np.ndarray:
        """The line of an earlier row with the same key, or 0 for a key's first row."""
        result = np.zeros(len(keys), dtype=np.int64)
        index = np.flatnonzero(present)
        if not len(index):
            return result
        hashes, at = _hash(keys.to_numpy(dtype=object)[index]), lines[index]
        found, earlier = self.table.values_of(hashes)
        if pd.Index(hashes).is_unique:  # the usual chunk: no key twice, every row its own first
            first_here = at
        else:
            first_here = pd.Series(at).groupby(hashes).transform("min").to_numpy()
        result[index] = np.where(found, earlier, np.where(first_here < at, first_here, 0))
        new = ~found & (first_here == at)
        self.table.insert(hashes[new], at[new])
        return result


class Occurrences:
    """How many times each row content has been seen: the n-th identical row gets id ...-n."""

    def __init__(self):
        self.table = _HashTable()

    def number(self, hashes: np.ndarray) -> np.ndarray:
        _found, before = self.table.values_of(hashes)
        occurrence = before + pd.Series(hashes).groupby(hashes).cumcount().to_numpy() + 1
        distinct, counts = np.unique(hashes, return_counts=True)
        found, positions = self.table.get(distinct)
        np.add.at(self.table.values, positions[found], counts[found])
        self.table.insert(distinct[~found], counts[~found])
        return occurrence


_HEX = np.frombuffer(b"0123456789abcdef", dtype="S1")
_NIBBLE_SHIFTS = np.arange(60, -1, -4, dtype=np.uint64)


def _hex(hashes: np.ndarray) -> np.ndarray:
    nibbles = ((hashes[:, None] >> _NIBBLE_SHIFTS) & np.uint64(15)).astype(np.intp)
    return np.ascontiguousarray(_HEX[nibbles]).view("S16").ravel().astype(str)


def row_ids(chunk: pd.DataFrame, occurrences: Occurrences) -> pd.Series:
    """Order ids for files without one: a hash of the row's cells (columns in name order)
    plus its number among identical rows, so importing a file twice finds the same ids."""
    names = sorted(chunk.columns)
    content = as_text(chunk[names[0]])
    for name in names[1:]:
        content = content + "\x1f" + as_text(chunk[name])
    hashes = _hash(content)
    occurrence = occurrences.number(hashes)
    ids = pd.Series(_hex(hashes), index=chunk.index, dtype="str")
    ids = "row-" + ids
    return ids.where(occurrence == 1, ids + "-" + pd.Series(occurrence, index=chunk.index).astype(str))
