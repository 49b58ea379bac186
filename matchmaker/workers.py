"""Worker threads for the ranker's parallel parts (numpy and scipy release the GIL).

A pool is made on first use in each process: a forked child (the web server's workers) has
none of its parent's threads. A one-core machine gets no pool, and the work runs in line.
"""
from __future__ import annotations

import concurrent.futures
import os
import threading

__all__ = ["Done", "Job", "per_process", "run"]

_LOCK = threading.Lock()


class Done:
    """A result already computed, read as a future's."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value

    def done(self) -> bool:
        return True


class Job:
    """A job submitted to a pool, read as its future. ``result()`` runs the job on the calling
    thread when no worker has taken it up yet (taken off the queue: the same call, hence the
    same result): a caller that has nothing else to do then works instead of waiting for a
    worker busy with an earlier job."""

    __slots__ = ("future", "fn", "args")

    def __init__(self, future: concurrent.futures.Future, fn, args: tuple):
        self.future, self.fn, self.args = future, fn, args

    def result(self):
        if self.future.cancel():
            return self.fn(*self.args)
        return self.future.result()

    def done(self) -> bool:
        return self.future.done()


def per_process(slot: list, workers: int, prefix: str) -> concurrent.futures.ThreadPoolExecutor | None:
    """The pool kept in ``slot`` ([pid, executor]) for this process, made on first use; None
    when the process may run on one core only."""
    if slot[0] != os.getpid():
        with _LOCK:
            if slot[0] != os.getpid():
                cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
                slot[1] = (concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix=prefix)
                           if cores > 1 else None)
                slot[0] = os.getpid()
    return slot[1]


def run(pool: concurrent.futures.Executor | None, fn, *args):
    """``fn(*args)`` on ``pool`` (a :class:`Job`), or now when there is no pool (a :class:`Done`).
    Also now when the pool is shut down: at interpreter exit concurrent.futures shuts pools
    down while a daemon thread, such as the web app's warm-up, may still rank."""
    if pool is not None:
        try:
            return Job(pool.submit(fn, *args), fn, args)
        except RuntimeError:
            pass
    return Done(fn(*args))
