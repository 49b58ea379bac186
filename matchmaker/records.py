"""A compact list of records (plain dicts) for the Matcher's firms.

200k firm dicts with their texts take about 0.55 GiB as Python objects (1M: about 2.75 GiB);
pickled side by side in one buffer they take a third of that. :class:`Records` is a
``Sequence`` of dicts kept that way: ``records[i]`` decodes a fresh dict (a caller that
changes it changes nothing here), ``append`` and ``records[i] = rec`` take new or edited
records. Reading a record costs a few microseconds, which the ranker pays only for the
firms it explains.
"""
from __future__ import annotations

import pickle
from array import array
from collections.abc import Iterable, Iterator, Sequence

__all__ = ["Records"]


class Records(Sequence):
    """Records pickled into one growing buffer; keys stored once per distinct key tuple."""

    def __init__(self, records: Iterable[dict] = ()):
        self._buf = bytearray()
        self._start = array("q")   # record i is _buf[_start[i]:_end[i]]
        self._end = array("q")
        self._keys: list[tuple] = []           # distinct key tuples, in order of first use
        self._key_id: dict[tuple, int] = {}
        for rec in records:
            self.append(rec)

    def _encode(self, rec: dict) -> bytes:
        keys = tuple(rec)
        kid = self._key_id.get(keys)
        if kid is None:
            kid = self._key_id[keys] = len(self._keys)
            self._keys.append(keys)
        return pickle.dumps((kid, tuple(rec.values())), protocol=pickle.HIGHEST_PROTOCOL)

    def _decode(self, i: int) -> dict:
        kid, values = pickle.loads(memoryview(self._buf)[self._start[i]:self._end[i]])
        return dict(zip(self._keys[kid], values))

    def __len__(self) -> int:
        return len(self._start)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._decode(k) for k in range(*i.indices(len(self)))]
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("record index out of range")
        return self._decode(i)

    def __iter__(self) -> Iterator[dict]:
        for i in range(len(self)):
            yield self._decode(i)

    def append(self, rec: dict) -> None:
        data = self._encode(rec)
        self._start.append(len(self._buf))
        self._buf += data
        self._end.append(len(self._buf))

    def __setitem__(self, i: int, rec: dict) -> None:
        """Replace record ``i`` (the new bytes go to the end; the old ones are left unused)."""
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("record index out of range")
        data = self._encode(rec)
        self._start[i] = len(self._buf)
        self._buf += data
        self._end[i] = len(self._buf)

    def extend(self, records: Iterable[dict]) -> None:
        for rec in records:
            self.append(rec)

    @property
    def nbytes(self) -> int:
        return len(self._buf) + self._start.itemsize * (len(self._start) + len(self._end))

    def __eq__(self, other) -> bool:
        if not isinstance(other, Sequence) or len(other) != len(self):
            return NotImplemented if not isinstance(other, Sequence) else False
        return all(a == b for a, b in zip(self, other))

    __hash__ = None  # mutable, like a list

    def __repr__(self) -> str:
        return f"Records({len(self)} records, {self.nbytes} bytes)"

    @classmethod
    def of(cls, records: Sequence[dict] | "Records") -> "Records":
        """``records`` as Records: the same object when it is one already."""
        return records if isinstance(records, Records) else cls(records)


class Grouped:
    """The records listed under each key, as index arrays (no list per key): ``get(key)`` is
    the list of those records, decoded, in the order they were listed.

    ``keys`` maps a key to its position (shared, so positions added later are seen: they
    have no records); ``pos`` and ``rec`` are parallel sequences of (key position, record
    index) pairs."""

    def __init__(self, records: Sequence[dict], keys: dict, pos, rec):
        import numpy as np

        self._records = records
        self._keys = keys
        pos = np.asarray(pos, dtype=np.int64)
        rec = np.asarray(rec, dtype=np.int64)
        n = int(pos.max()) + 1 if len(pos) else 0
        order = np.argsort(pos, kind="stable")
        self._rec = rec[order].astype(np.int32 if len(records) < 2 ** 31 else np.int64)
        self._ptr = np.concatenate([[0], np.cumsum(np.bincount(pos, minlength=n))])

    def get(self, key, default=None):
        i = self._keys.get(key)
        if i is None or i + 1 >= len(self._ptr) or self._ptr[i] == self._ptr[i + 1]:
            return default
        return [self._records[int(k)] for k in self._rec[self._ptr[i]:self._ptr[i + 1]]]

    def __getitem__(self, key) -> list:
        return self.get(key, [])

    def __contains__(self, key) -> bool:
        return self.get(key) is not None
