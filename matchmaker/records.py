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
from bisect import bisect_left, bisect_right
import zlib
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence

import numpy as np

__all__ = ["Records", "Grouped", "Keys", "KeyMap", "with_positions"]


class _Packed(Sequence):
    """Items encoded into one growing buffer: item i is ``_buf[_start[i]:_end[i]]``. A
    replaced item's new bytes go to the end; the old ones are left unused."""

    _what = "item"

    def __init__(self):
        self._buf = bytearray()
        self._start = array("q")
        self._end = array("q")

    def _encode(self, item) -> bytes:
        raise NotImplementedError

    def _decode(self, i: int):
        raise NotImplementedError

    def _index(self, i: int) -> int:
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"{self._what} index out of range")
        return i

    def __len__(self) -> int:
        return len(self._start)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._decode(k) for k in range(*i.indices(len(self)))]
        return self._decode(self._index(i))

    def __iter__(self) -> Iterator:
        for i in range(len(self)):
            yield self._decode(i)

    def append(self, item) -> None:
        data = self._encode(item)
        self._start.append(len(self._buf))
        self._buf += data
        self._end.append(len(self._buf))

    def __setitem__(self, i: int, item) -> None:
        i = self._index(i)
        data = self._encode(item)
        self._start[i] = len(self._buf)
        self._buf += data
        self._end[i] = len(self._buf)

    def extend(self, items: Iterable) -> None:
        for item in items:
            self.append(item)

    @property
    def nbytes(self) -> int:
        return len(self._buf) + self._start.itemsize * (len(self._start) + len(self._end))

    def __eq__(self, other) -> bool:
        if not isinstance(other, Sequence) or len(other) != len(self):
            return NotImplemented if not isinstance(other, Sequence) else False
        return all(a == b for a, b in zip(self, other))

    __hash__ = None  # mutable, like a list

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} {self._what}s, {self.nbytes} bytes)"


class Records(_Packed):
    """Records pickled into one growing buffer; keys stored once per distinct key tuple."""

    _what = "record"

    def __init__(self, records: Iterable[dict] = ()):
        super().__init__()
        self._keys: list[tuple] = []           # distinct key tuples, in order of first use
        self._key_id: dict[tuple, int] = {}
        self.extend(records)

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


def _key_hash(b: bytes) -> int:
    return zlib.crc32(b)


class Keys(_Packed):
    """Strings by position (firm credit codes, names) stored as UTF-8 in one buffer, with a
    lookup of a string's position: what a list of 1M codes and a {code: position} dict hold in
    ~0.25 GiB of Python objects takes ~35 MB here. The lookup is a sorted array of CRC-32s of
    the strings searched by bisection, each candidate checked against the stored string;
    strings appended or replaced after the table was built are found through a small dict.

    ``find(key)`` is the last position holding ``key`` (what ``{k: i for i, k in ...}`` keeps),
    ``find(key, first=True)`` the first; ``positions()`` is that lookup as a mapping."""

    _what = "key"

    def __init__(self, keys: Iterable[str] = ()):
        super().__init__()
        self._extra: dict[str, int] = {}   # key -> last position given after the table
        self._extra_first: dict[str, int] = {}
        if isinstance(keys, Keys):  # a copy: the buffer as it is
            self._buf[:] = keys._buf
            self._start, self._end = array("q", keys._start), array("q", keys._end)
            keys = ()
        for k in keys:
            super().append(k)
        self._build()

    def _build(self) -> None:
        n = len(self._start)
        buf = self._buf
        h = np.fromiter((_key_hash(buf[s:e]) for s, e in zip(self._start, self._end)), dtype=np.uint32, count=n)
        order = np.argsort(h, kind="stable")  # equal hashes keep their positions ascending
        self._h = array("I", h[order].tobytes()) if n else array("I")
        self._p = order.astype(np.int32 if n < 2 ** 31 else np.int64)
        self._n_table = n

    def _encode(self, key: str) -> bytes:
        return key.encode("utf-8", "surrogatepass")

    def _decode(self, i: int) -> str:
        return str(memoryview(self._buf)[self._start[i]:self._end[i]], "utf-8", "surrogatepass")

    def append(self, key: str) -> None:
        pos = len(self)
        super().append(key)
        self._extra[key] = pos
        self._extra_first.setdefault(key, pos)

    def __setitem__(self, i: int, key: str) -> None:
        """Replace the string at ``i`` (its new bytes go to the end of the buffer)."""
        i = self._index(i)
        if self._decode(i) == key:
            return
        super().__setitem__(i, key)
        self._extra[key] = i
        if self._extra_first.get(key, len(self)) > i:
            self._extra_first[key] = i

    def _table(self, key: str) -> list[int]:
        """Positions in the table whose current string is ``key``, ascending."""
        h = _key_hash(key.encode("utf-8", "surrogatepass"))
        lo, hi = bisect_left(self._h, h), bisect_right(self._h, h)
        return [p for p in self._p[lo:hi].tolist() if self._decode(p) == key]

    def find(self, key: str, default=None, first: bool = False):
        extra = (self._extra_first if first else self._extra).get(key)
        found = self._table(key)
        if extra is not None and self._decode(extra) == key:
            found.append(extra)
        return (min(found) if first else max(found)) if found else default

    def find_many(self, keys: Sequence[str], first: bool = False):
        """``find`` of each key as an int64 array (-1 when absent), the table searched by numpy."""
        n = len(keys)
        out = np.full(n, -1, dtype=np.int64)
        if not n:
            return out
        enc = [k.encode("utf-8", "surrogatepass") if isinstance(k, str) else b"" for k in keys]
        h = np.fromiter(map(_key_hash, enc), dtype=np.uint32, count=n)
        table = np.frombuffer(self._h, dtype=np.uint32)
        lo = np.searchsorted(table, h, side="left")
        hi = np.searchsorted(table, h, side="right")
        single = (hi - lo == 1)
        buf, start, end = self._buf, self._start, self._end
        plain = not self._extra
        for k in range(n):
            key = keys[k]
            if not isinstance(key, str):
                continue
            if plain and single[k]:
                p = int(self._p[lo[k]])
                if buf[start[p]:end[p]] == enc[k]:
                    out[k] = p
                continue
            got = self.find(key, first=first)
            if got is not None:
                out[k] = got
        return out

    def first_positions(self):
        """For each position, the first position holding the same string (int64 array)."""
        n = len(self)
        out = np.arange(n, dtype=np.int64)
        if self._extra or n < 2:
            for i in range(n):
                out[i] = self.find(self._decode(i), first=True)
            return out
        h = np.frombuffer(self._h, dtype=np.uint32)
        # runs of equal hashes (collisions or repeated strings), positions ascending in each
        starts = np.flatnonzero(np.concatenate([[True], h[1:] != h[:-1]]))
        lengths = np.diff(np.append(starts, n))
        for a, m in zip(starts[lengths > 1].tolist(), lengths[lengths > 1].tolist()):
            firsts: dict[str, int] = {}
            for p in self._p[a:a + m].tolist():
                out[p] = firsts.setdefault(self._decode(p), p)
        return out

    def positions(self) -> "KeyMap":
        return KeyMap(self)

    @property
    def nbytes(self) -> int:
        return super().nbytes + self._p.nbytes + self._h.itemsize * len(self._h)


class KeyMap(Mapping):
    """A dict ``{keys[i]: values[i]}`` built in position order (the last position of a string
    wins) over :class:`Keys`, without a Python object per entry; ``values`` None maps a string
    to its position. Items set afterwards go to a small dict that takes precedence."""

    def __init__(self, keys: Keys, values: Sequence | None = None):
        self._keys = keys
        self._values = values
        self._set: dict = {}

    def _lookup(self, key):
        if key in self._set:
            return self._set[key], True
        if not isinstance(key, str):
            return None, False
        p = self._keys.find(key)
        if p is None:
            return None, False
        return (p if self._values is None else self._values[p]), True

    def get(self, key, default=None):
        v, ok = self._lookup(key)
        return v if ok else default

    def __getitem__(self, key):
        v, ok = self._lookup(key)
        if not ok:
            raise KeyError(key)
        return v

    def __contains__(self, key) -> bool:
        return self._lookup(key)[1]

    def __setitem__(self, key, value) -> None:
        self._set[key] = value

    def find_many(self, keys: Sequence) -> np.ndarray:
        """The values of ``keys`` as an int64 array, -1 for those absent (a position map only:
        ``values`` None), the stored ones looked up by :meth:`Keys.find_many`."""
        if self._values is not None:
            raise TypeError("find_many maps keys to positions only")
        out = self._keys.find_many(keys)
        if self._set:
            for k, key in enumerate(keys):
                if key in self._set:
                    out[k] = self._set[key]
        return out

    def __iter__(self) -> Iterator:
        seen = set(self._set)
        yield from self._set
        for i, k in enumerate(self._keys):
            if k not in seen and self._keys.find(k, first=True) == i:
                yield k

    def __len__(self) -> int:
        return sum(1 for _ in self)


def with_positions(records: Sequence[dict], find_many, fields: Sequence[str], block: int = 1 << 16):
    """(k, record, position of record[field] for each of ``fields``) for each record in
    order, the positions (-1: absent) looked up by ``find_many`` (``Keys.find_many`` or
    ``KeyMap.find_many``) a block of records at a time: relations' firm codes at 1M firms
    are 750k lookups, which one by one cost seconds."""
    for lo in range(0, len(records), block):
        part = records[lo:lo + block]
        found = [find_many([r.get(f) for r in part]).tolist() for f in fields]
        for j, (r, *pos) in enumerate(zip(part, *found)):
            yield (lo + j, r, *pos)
