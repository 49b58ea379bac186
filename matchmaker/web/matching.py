"""The one fitted Matcher the web app keeps (app.state.matching).

It is fitted once in the lifespan and kept current with `update_firm`/`update_demand` when a
user creates or edits a record; a bulk import refits in a background thread and swaps the
new model in when done, so no request ever waits for a fit.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import is_dataclass

from matchmaker import db as dbmod
from matchmaker.records import Records

log = logging.getLogger("matchmaker.web")


_MATCH_FIELDS = ("credit_code", "demand_id", "score", "reasons")


def _as_dict(match) -> dict:
    if is_dataclass(match):
        # shallow: dataclasses.asdict deep-copies every reason (a tenth of a ranking's cost);
        # the cached reasons are shared read-only and each caller gets its own outer dict
        return {k: getattr(match, k, None) for k in _MATCH_FIELDS}
    if isinstance(match, dict):
        return dict(match)
    return {k: getattr(match, k) for k in _MATCH_FIELDS if hasattr(match, k)}


def _compute_states(model, ids, step=contextlib.nullcontext, live=lambda: True) -> None:
    """Every demand's state (query vectors, graph scores) through one pair's explanation,
    then one firm's demand list, which stacks those states for the firm direction. `step`
    wraps each call (the server's read lock, so edits wait at most one step); `live` stops
    it early (another model swapped in)."""
    smes = model.sme_codes() if hasattr(model, "sme_codes") else []
    if not smes or not hasattr(model, "explain"):
        return
    for did in ids:
        if not live():
            return
        with step():
            model.explain(did, smes[0])
    with step():
        model.rank_demands(smes[0], top=1)


def _prepare(model) -> bool:
    """The demand states computed on a model no reader sees yet (after a fit, before it is
    served): a few seconds there instead of in the first request that ranks demands for an
    SME. False when that failed (the warm-up then computes them, see Matching.warm)."""
    if model is None or not hasattr(model, "explain"):
        return True
    started = time.perf_counter()
    try:
        _compute_states(model, model.demand_ids())
    except Exception:  # an optimisation: the model still serves, computing states when asked
        log.exception("preparing the demand states failed")
        return False
    log.info("demand states prepared in %.1f s", time.perf_counter() - started)
    return True


def _apply(model, kind: str, record: dict) -> None:
    """One saved edit ("firm" or "demand") folded into a model."""
    (model.update_firm if kind == "firm" else model.update_demand)(record)


def _firm_records(db):
    """Every firm (as db.fetch_firms gives them) streamed from the cursor into compact
    records: the table is never held as rows or dicts at once (1M firms as dicts ~2.7 GiB),
    and the fitted Matcher keeps these records, not a second copy."""
    rows = db.execute("SELECT * FROM firms ORDER BY rowid")
    cols = [d[0] for d in rows.description]
    return Records(dbmod.firm_record(dict(zip(cols, r))) for r in rows)


def _fit(db):
    """A fitted Matcher over the database's records (service.build_matcher)."""
    # relations compact too (the Matcher keeps them as Records): 751k as dicts were 0.45 GiB
    # held through the fit at 1M firms
    firms, demands, relations = (_firm_records(db), dbmod.fetch_demands(db),
                                 Records(dbmod.fetch_relations(db)))
    if not any(f.get("role") == "sme" for f in firms):
        return None  # nothing to rank yet (a new installation); fitted when firms arrive
    from matchmaker.service import build_matcher

    return build_matcher(firms, demands, relations)


class _RWLock:
    """Many rankings at once, or one update alone. Writers are preferred so an edit is not
    starved by a stream of page views."""

    def __init__(self):
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False
        self._waiting_writers = 0

    @contextlib.contextmanager
    def read(self):
        with self._cond:
            while self._writer or self._waiting_writers:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextlib.contextmanager
    def write(self):
        with self._cond:
            self._waiting_writers += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._waiting_writers -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


class _Ranked:
    """A cached ranking item read as the Matcher's Match (attributes) by events.py."""

    __slots__ = _MATCH_FIELDS

    def __init__(self, item: dict):
        for k in _MATCH_FIELDS:
            setattr(self, k, item.get(k))


class _ReadView:
    """The model for callers that rank it directly (event pairing): each ranking holds the
    read lock, so an edit saved meanwhile never changes the model under it. A demand given
    by id is ranked through the Matching's cache, so pairing, re-pairing and repairing an
    event rank each demand once until an edit (pairing asks for 500 SMEs with reasons)."""

    def __init__(self, model, rw: _RWLock, matching: "Matching | None" = None):
        self._model, self._rw, self._matching = model, rw, matching

    def rank_smes(self, demand, top: int = 50, among=None):
        # the page cache holds whole rankings; a ranking restricted to some firms (pairing)
        # goes to the model, which builds reasons for those firms only
        bulk = isinstance(demand, str) and self._matching is not None
        with self._matching.foreground() if bulk else contextlib.nullcontext():
            if bulk and among is None:
                return [_Ranked(m) for m in self._matching.rank_smes(demand, top=top)]
            with self._rw.read():
                return self._model.rank_smes(demand, top=top, among=among)

    def rank_demands(self, firm, top: int = 50):
        # a record (not an id) may be folded into the model by rank_demands: exclusive
        with (self._rw.read() if isinstance(firm, str) else self._rw.write()):
            return self._model.rank_demands(firm, top=top)

    def __getattr__(self, name):
        return getattr(self._model, name)


class Matching:
    def __init__(self, store):
        self.store = store
        self._model = None
        # _lock guards the small shared state (model pointer, cache, versions) and is held
        # only briefly; _rw guards the model's insides: rankings read them, edits write them.
        # Ranking never happens under _lock, so one slow ranking stalls no other page.
        self._lock = threading.RLock()
        self._rw = _RWLock()
        self._refitting = False
        self._pending: list[tuple[str, dict]] = []  # edits made while a refit runs
        self._generation = 0  # bumped on every new model; cached rankings expire
        # bumped by an edit, per ranking kind ("all demand lists") and per (kind, key)
        self._kind_version = {"smes": 0, "demands": 0}
        self._key_version: dict[tuple, int] = {}
        self._cache: dict[tuple, tuple[tuple, int, list[dict] | dict | None]] = {}
        self._data_edits = 0  # see data_version()
        # one pair's explanation, apart from the rankings so that many pairs never push
        # the rankings out; every edit expires them all (see _pair_version)
        self._pairs: dict[tuple, tuple[tuple, dict | None]] = {}
        self.ready = threading.Event()
        self.warmed = threading.Event()
        self._foreground = 0  # users' bulk rankings in progress: the warm-up waits for them
        self._idle = threading.Condition(threading.Lock())

    def load(self, warm: bool = True) -> "Matching":
        prepared = False
        try:
            model = _fit(self.store.db())
            if warm:
                prepared = _prepare(model)
        except Exception:  # the pages still work, without rankings, until a refit succeeds
            log.exception("fitting the matcher failed; serving without rankings")
            model = None
        with self._lock:
            self._model = model
            self._changed()
        self.ready.set()
        if warm:
            self.warm_in_background(states=not prepared)
        else:
            self.warmed.set()
        return self

    @property
    def model(self):
        with self._lock:
            return self._model

    def reader(self):
        """The current model wrapped so its rankings are safe beside concurrent edits."""
        model = self.model
        return None if model is None else _ReadView(model, self._rw, self)

    CACHE_SIZE = 4096
    # Rankings are cached this deep, so every page's `top` shares one entry. Each ranked
    # item's reasons cost ~0.4 ms, so the depth is what the pages need: a leader filters
    # 200 ranked SMEs by tier/district/segment; an SME's list shows at most 100 demands.
    CACHE_DEPTH = {"smes": 200, "demands": 100}

    def _version(self, kind: str, key) -> tuple:
        return (self._generation, self._kind_version[kind], self._key_version.get((kind, key), 0))

    def _ranked(self, kind: str, key, top: int) -> list[dict]:
        """Rankings by id, cached until an edit that can change them or a new model.
        Records (a draft being typed) are ranked afresh each time."""
        with self._lock:
            model = self._model
            if model is None:
                return []
            if isinstance(key, str):
                version = self._version(kind, key)
                hit = self._cache.get((kind, key))
                if hit and hit[0] == version and hit[1] >= top:
                    return [dict(m) for m in hit[2][:top]]
        rank = model.rank_smes if kind == "smes" else model.rank_demands
        if not isinstance(key, str):
            # rank_demands folds an unknown or changed firm record into the model: exclusive
            with (self._rw.read() if kind == "smes" else self._rw.write()):
                return [_as_dict(m) for m in rank(key, top=top)]
        depth = max(top, self.CACHE_DEPTH[kind])
        with self._rw.read():
            found = [_as_dict(m) for m in rank(key, top=depth)]
        with self._lock:
            # an edit or a new model since we looked makes this ranking possibly stale: it is
            # still the right answer for this request, but it is not kept
            if self._model is model and self._version(kind, key) == version:
                if len(self._cache) >= self.CACHE_SIZE:
                    self._cache.clear()
                self._cache[(kind, key)] = (version, depth, found)
        return [dict(m) for m in found[:top]]

    def rank_smes(self, demand, top: int = 50) -> list[dict]:
        return self._ranked("smes", demand, top)

    def _pair_version(self, demand_id: str, code: str) -> tuple:
        # any edit can move a pair's graph or prior parts: expire on every edit of either kind
        return (self._generation, self._kind_version["smes"], self._kind_version["demands"],
                self._key_version.get(("smes", demand_id), 0),
                self._key_version.get(("demands", code), 0))

    def _cached_pair(self, demand_id: str, code: str) -> dict | None:
        """The pair as a cached ranking shows it (the same figures as the list beside it)."""
        for kind, key, field, want in (("smes", demand_id, "credit_code", code),
                                       ("demands", code, "demand_id", demand_id)):
            hit = self._cache.get((kind, key))
            if hit and hit[0] == self._version(kind, key):
                found = next((m for m in hit[2] if m.get(field) == want), None)
                if found is not None:
                    return dict(found)
        return None

    def explain(self, demand_id: str, code: str) -> dict | None:
        """Score and reasons of one (demand, SME) pair without ranking anything deep: from a
        cached ranking that holds the pair, else `Matcher.explain`, cached with the same
        versioning as the rankings. None when either side is unknown (or no model yet)."""
        key = (demand_id, code)
        with self._lock:
            model = self._model
            if model is None:
                return None
            version = self._pair_version(demand_id, code)
            hit = self._pairs.get(key)
            if hit and hit[0] == version:
                return None if hit[1] is None else dict(hit[1])
            found = self._cached_pair(demand_id, code)
        if found is None:
            if hasattr(model, "explain"):
                with self._rw.read():
                    m = model.explain(demand_id, code)
                found = None if m is None else _as_dict(m)
            else:  # a Matcher without explain(): the firm's cached demand list
                try:
                    found = next((m for m in self.rank_demands(code, top=self.CACHE_DEPTH["demands"])
                                  if m.get("demand_id") == demand_id), None)
                except (KeyError, ValueError):
                    found = None
        if found is not None:  # a ranked item names only its own side
            found.update(demand_id=demand_id, credit_code=code)
        with self._lock:
            if self._model is model and self._pair_version(demand_id, code) == version:
                if len(self._pairs) >= self.CACHE_SIZE:
                    self._pairs.clear()
                self._pairs[key] = (version, found)
        return None if found is None else dict(found)

    @contextlib.contextmanager
    def foreground(self):
        """Mark a user's bulk ranking (an event's pairing): the background warm-up pauses
        until it is done instead of taking half the CPU from it."""
        with self._idle:
            self._foreground += 1
        try:
            yield
        finally:
            with self._idle:
                self._foreground -= 1
                self._idle.notify_all()

    def _yield_to_users(self, worked: float) -> None:
        """Between two warm-up rankings: wait while users rank in bulk, then rest as long as
        the last ranking took, so the warm-up takes at most about half of one core."""
        with self._idle:
            self._idle.wait_for(lambda: self._foreground == 0, timeout=60)
        time.sleep(min(max(worked, 0.002), 0.5))

    def data_version(self) -> tuple:
        """Changes whenever a firm or demand is edited or a refit starts or lands: pages that
        cache what they computed from firms and demands (the chain map) expire on it."""
        with self._lock:
            return (self._generation, self._data_edits)

    def rank_demands(self, firm, top: int = 50) -> list[dict]:
        return self._ranked("demands", firm, top)

    def _changed(self, kind: str | None = None, key: str | None = None) -> None:
        """Expire the cached rankings a change can affect. A new or edited demand changes its
        own SME list and every firm's demand list; a firm changes every demand's SME list
        and its own demand list; a new model changes everything. Both steps are needed: the
        bumped versions keep a ranking that was being computed before the change out of the
        cache after it (_ranked compares them before storing); the deletions free the stale
        entries now instead of at their next lookup."""
        self._data_edits += 1
        self._pairs.clear()
        if kind is None:
            self._generation += 1
            self._cache.clear()
            return
        other = "demands" if kind == "demand" else "smes"
        own = "smes" if kind == "demand" else "demands"
        self._kind_version[other] += 1
        self._key_version[(own, key)] = self._key_version.get((own, key), 0) + 1
        for k in [k for k in self._cache if k[0] == other or k == (own, key)]:
            del self._cache[k]

    def _update(self, kind: str, record: dict, key: str | None) -> None:
        with self._lock:
            model = self._model
        if model is None:
            self.refit_in_background()  # the first firms of a new installation
            return
        with self._rw.write():
            _apply(model, kind, record)
        with self._lock:
            self._changed(kind, key)
            if self._model is not None and self._model is not model:
                # a refit swapped in meanwhile and may lack this edit
                with self._rw.write():
                    _apply(self._model, kind, record)
            elif self._refitting:
                self._pending.append((kind, record))

    def update_firm(self, record: dict) -> None:
        self._update("firm", record, record.get("credit_code"))

    def update_demand(self, record: dict) -> None:
        self._update("demand", record, record.get("demand_id"))

    def refit_in_background(self) -> threading.Thread | None:
        """Refit after a bulk import without blocking requests; the old model answers
        until the new one is ready."""
        with self._lock:
            self._data_edits += 1  # the records changed (an import): page caches expire now
            if self._refitting:
                return None
            self._refitting = True
            self._pending = []

        def run():
            swapped = False
            try:
                model = _fit(self.store.db())
                prepared = _prepare(model)  # the old model answers meanwhile
                with self._lock:
                    # edits saved while fitting may predate the fit's snapshot: replay them
                    # (the new model is not yet visible to any reader)
                    for kind, record in self._pending:
                        _apply(model, kind, record)
                    self._model = model
                    self._changed()
                    swapped = True
            except Exception:  # keep serving the old model; the log says why
                log.exception("background refit failed")
            finally:
                with self._lock:
                    self._refitting = False
                    self._pending = []
            if swapped:
                self.warm_in_background(states=not prepared)

        thread = threading.Thread(target=run, name="matchmaker-refit", daemon=True)
        thread.start()
        return thread

    def _warm_states(self, model, ids: list[str]) -> None:
        """Phase one of the warm-up (~15 ms a demand), as _prepare but under the read lock
        step by step while the model is served. After it no request pays for computing all
        demands' states at once (~3 s on the demo), only for its own ranking."""
        _compute_states(model, ids, step=self._rw.read, live=lambda: self.model is model)

    MAX_WARM_SMES = 2000

    def _sme_accounts(self) -> list[str]:
        """SMEs with an active account, most recently signed-up first."""
        try:
            found = self.store.db().execute(
                "SELECT firm FROM users WHERE role = 'sme' AND active = 1 AND firm IS NOT NULL "
                "GROUP BY firm ORDER BY MAX(id) DESC LIMIT ?", [self.MAX_WARM_SMES]).fetchall()
        except Exception:  # no users table yet (tools that only fit): nothing to warm
            return []
        return [r[0] for r in found]

    def warm(self, states: bool = True) -> int:
        """Rank every demand once, so its state (query vectors, graph scores) is computed and
        its SME list cached before anyone asks. Two phases: first the states of all demands
        and the firm direction's stack (a few seconds), so an SME's first /recommended costs
        one ordinary ranking; then each demand's SME list, cached for the leaders' pages.
        `states=False` skips phase one for a model _prepare already did it on (load, refit).
        Each step takes the read lock on its own, so edits wait at most one ranking.
        Stops early when another model is swapped in. Returns the demands ranked."""
        self.warmed.clear()
        done, started = 0, time.perf_counter()
        try:
            with self._lock:
                model = self._model
            if model is None:
                return 0
            ids = getattr(model, "demand_ids", None)
            ids = list(ids() if callable(ids) else getattr(model, "demands_", {}))
            if states:
                try:
                    self._warm_states(model, ids)
                except KeyError:  # a demand removed meanwhile: phase two still warms the rest
                    pass
                log.info("demand states warmed in %.1f s", time.perf_counter() - started)
            # the demand lists of SMEs that can sign in (~30 ms each): their first
            # /recommended is then a cache hit, even when a room of them opens it at once
            for code in self._sme_accounts():
                if self.model is not model:
                    return done
                t = time.perf_counter()
                try:
                    self._ranked("demands", code, self.CACHE_DEPTH["demands"])
                except KeyError:  # a firm not in this model (added meanwhile)
                    continue
                self._yield_to_users(time.perf_counter() - t)
            for did in ids:
                if self.model is not model:
                    return done
                t = time.perf_counter()
                try:
                    self._ranked("smes", did, self.CACHE_DEPTH["smes"])
                except KeyError:  # removed meanwhile
                    continue
                done += 1
                self._yield_to_users(time.perf_counter() - t)
            log.info("rankings warmed: %d demands in %.1f s", done, time.perf_counter() - started)
            return done
        except Exception:  # warming is an optimisation: a failure only costs the first view
            log.exception("warming the rankings failed")
            return done
        finally:
            self.warmed.set()

    def warm_in_background(self, states: bool = True) -> threading.Thread:
        thread = threading.Thread(target=self.warm, args=(states,), name="matchmaker-warm",
                                  daemon=True)
        thread.start()
        return thread
