"""The one fitted Matcher the web app keeps (app.state.matching).

It is fitted once in the lifespan and kept current with `update_firm`/`update_demand` when a
user creates or edits a record; a bulk import refits in a background thread and swaps the
new model in when done, so no request ever waits for a fit.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, is_dataclass

from matchmaker import db as dbmod

log = logging.getLogger("matchmaker.web")


def _as_dict(match) -> dict:
    if is_dataclass(match):
        return asdict(match)
    if isinstance(match, dict):
        return dict(match)
    return {k: getattr(match, k) for k in ("credit_code", "demand_id", "score", "reasons")
            if hasattr(match, k)}


def _fit(db):
    """A fitted Matcher over the database's records (service.build_matcher)."""
    firms, demands, relations = (dbmod.fetch_firms(db), dbmod.fetch_demands(db),
                                 dbmod.fetch_relations(db))
    if not any(f.get("role") == "sme" for f in firms):
        return None  # nothing to rank yet (a new installation); fitted when firms arrive
    try:
        from matchmaker.service import build_matcher
    except ImportError:  # rank.py not installed: keep the pages usable with a plain overlap
        return _OverlapMatcher().fit(firms, demands, relations)
    return build_matcher(firms, demands, relations)


class Matching:
    def __init__(self, store):
        self.store = store
        self._model = None
        self._lock = threading.RLock()
        self._refitting = False
        self._pending: list[tuple[str, dict]] = []  # edits made while a refit runs
        self._generation = 0  # bumped on every change of the model; cached rankings expire
        self._cache: dict[tuple, tuple[int, int, list[dict]]] = {}
        self.ready = threading.Event()

    def load(self) -> "Matching":
        try:
            model = _fit(self.store.db())
        except Exception:  # the pages still work, without rankings, until a refit succeeds
            log.exception("fitting the matcher failed; serving without rankings")
            model = None
        with self._lock:
            self._model = model
            self._changed()
        self.ready.set()
        return self

    @property
    def model(self):
        with self._lock:
            return self._model

    CACHE_SIZE = 4096
    CACHE_TOP = 200  # rankings are cached this deep, so every page's `top` shares one entry

    def _ranked(self, kind: str, key, top: int) -> list[dict]:
        """Rankings by id, cached until the model next changes (an edit, an import).
        Records (a draft being typed) are ranked afresh each time."""
        with self._lock:
            model = self._model
            if model is None:
                return []
            rank = model.rank_smes if kind == "smes" else model.rank_demands
            if not isinstance(key, str):
                return [_as_dict(m) for m in rank(key, top=top)]
            hit = self._cache.get((kind, key))
            if hit and hit[0] == self._generation and hit[1] >= top:
                return [dict(m) for m in hit[2][:top]]
            depth = max(top, self.CACHE_TOP)
            found = [_as_dict(m) for m in rank(key, top=depth)]
            if len(self._cache) >= self.CACHE_SIZE:
                self._cache.clear()
            self._cache[(kind, key)] = (self._generation, depth, found)
            return [dict(m) for m in found[:top]]

    def rank_smes(self, demand, top: int = 50) -> list[dict]:
        return self._ranked("smes", demand, top)

    def rank_demands(self, firm, top: int = 50) -> list[dict]:
        return self._ranked("demands", firm, top)

    def _changed(self, kind: str | None = None, key: str | None = None) -> None:
        """Expire the cached rankings a change can affect. A new or edited demand changes its
        own SME list and every firm's demand list; a firm changes every demand's SME list
        and its own demand list; a new model changes everything."""
        if kind is None:
            self._generation += 1
            self._cache.clear()
            return
        other = "demands" if kind == "demand" else "smes"
        own = "smes" if kind == "demand" else "demands"
        for k in [k for k in self._cache if k[0] == other or k == (own, key)]:
            del self._cache[k]

    def update_firm(self, record: dict) -> None:
        with self._lock:
            if self._model is None:
                self.refit_in_background()  # the first firms of a new installation
                return
            if self._model is not None:
                self._model.update_firm(record)
            self._changed("firm", record.get("credit_code"))
            if self._refitting:
                self._pending.append(("firm", record))

    def update_demand(self, record: dict) -> None:
        with self._lock:
            if self._model is None:
                self.refit_in_background()
                return
            if self._model is not None:
                self._model.update_demand(record)
            self._changed("demand", record.get("demand_id"))
            if self._refitting:
                self._pending.append(("demand", record))

    def refit_in_background(self) -> threading.Thread | None:
        """Refit after a bulk import without blocking requests; the old model answers
        until the new one is ready."""
        with self._lock:
            if self._refitting:
                return None
            self._refitting = True
            self._pending = []

        def run():
            try:
                model = _fit(self.store.db())
                with self._lock:
                    # edits saved while fitting may predate the fit's snapshot: replay them
                    for kind, record in self._pending:
                        (model.update_firm if kind == "firm" else model.update_demand)(record)
                    self._model = model
                    self._changed()
            except Exception:  # keep serving the old model; the log says why
                log.exception("background refit failed")
            finally:
                with self._lock:
                    self._refitting = False
                    self._pending = []

        thread = threading.Thread(target=run, name="matchmaker-refit", daemon=True)
        thread.start()
        return thread


class _OverlapMatcher:
    """Stand-in used only while rank.py is absent: character-bigram overlap, same interface."""

    def fit(self, firms, demands, relations, taxonomy=None):
        self.firms_ = {f["credit_code"]: f for f in firms}
        self.demands_ = {d["demand_id"]: d for d in demands}
        return self

    @staticmethod
    def _grams(text: str) -> set[str]:
        text = "".join(ch for ch in text if ch.strip())
        return {text[i:i + 2] for i in range(len(text) - 1)}

    def _firm_text(self, f):
        return " ".join([f.get("name", ""), " ".join(f.get("chains", [])),
                         " ".join(f.get("segments", [])), f.get("products", ""),
                         f.get("technologies", ""), f.get("description", "")])

    def _demand_text(self, d):
        return " ".join([d.get("title", ""), d.get("description", ""), d.get("specs", ""),
                         " ".join(d.get("chains", []))])

    def _score(self, d, f):
        a, b = self._grams(self._demand_text(d)), self._grams(self._firm_text(f))
        common = a & b
        score = len(common) / (len(a) ** 0.5 * len(b) ** 0.5 or 1)
        chain = next((c for c in d.get("chains", []) if c in f.get("chains", [])), "")
        seg = (f.get("segments") or [""])[0]
        reasons = {"terms": sorted(common, key=len, reverse=True)[:8],
                   "path": [d.get("title", ""), chain, seg, f.get("name", "")],
                   "relations": [], "tier": "、".join(f.get("tiers", [])),
                   "parts": {"text": score, "graph": 0.0, "prior": 0.0}}
        return score, reasons

    def rank_smes(self, demand, top=50):
        d = self.demands_.get(demand) if isinstance(demand, str) else demand
        if d is None:
            return []
        out = []
        for code, f in self.firms_.items():
            if f.get("role") != "sme":
                continue
            s, r = self._score(d, f)
            out.append({"credit_code": code, "score": round(s, 4), "reasons": r})
        return sorted(out, key=lambda m: -m["score"])[:top]

    def rank_demands(self, firm, top=50):
        f = self.firms_.get(firm) if isinstance(firm, str) else firm
        if f is None:
            return []
        out = []
        for did, d in self.demands_.items():
            if d.get("status") != "open":
                continue
            s, r = self._score(d, f)
            out.append({"demand_id": did, "score": round(s, 4), "reasons": r})
        return sorted(out, key=lambda m: -m["score"])[:top]

    def update_firm(self, record):
        self.firms_[record["credit_code"]] = record

    def update_demand(self, record):
        self.demands_[record["demand_id"]] = record
