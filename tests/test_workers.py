import concurrent.futures
import threading

from matchmaker.workers import Done, Job, run


def test_a_job_no_worker_took_up_runs_on_the_caller_and_a_started_one_is_awaited():
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        gate, started = threading.Event(), threading.Event()

        def block():
            started.set()
            gate.wait(5)
            return threading.current_thread().name

        busy = run(pool, block)
        assert isinstance(busy, Job)
        assert started.wait(5)
        # the only worker is busy: the queued job is taken back and run here
        queued = run(pool, lambda a, b: (a + b, threading.current_thread().name), 2, 3)
        assert not queued.done()
        assert queued.result() == (5, threading.current_thread().name)
        assert queued.future.cancelled()
        # a job already running is waited for, and runs once
        gate.set()
        assert busy.result() != threading.current_thread().name
        assert busy.done() and not busy.future.cancelled()
    finally:
        pool.shutdown(wait=True)
    # no pool (one core), or a pool already shut down: run now
    assert isinstance(run(None, len, "abc"), Done) and run(None, len, "abc").result() == 3
    assert run(pool, len, "abcd").result() == 4
