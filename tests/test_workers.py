"""gallerfs.indexer.workers: each task's end is attributed to it, hung workers are killed and dead ones replaced."""

from __future__ import annotations

import os
import signal
import time

from gallerfs.indexer.workers import Outcome, WorkerPool


def _pid() -> int:
    return os.getpid()


def _segfault() -> None:
    os.kill(os.getpid(), signal.SIGSEGV)


def _fail() -> None:
    raise ValueError("bad input")


def _square(x: int) -> int:
    return x * x


def _drain(pool: WorkerPool, n: int) -> dict:
    ended: dict = {}
    while len(ended) < n:
        for key, outcome in pool.wait():
            ended[key] = outcome
    return ended


def test_results_errors_and_deaths_are_each_attributed_to_their_task() -> None:
    with WorkerPool(2) as pool:
        for i in range(6):
            pool.submit(("sq", i), None, _square, i)
        pool.submit("exit", None, os._exit, 3)
        pool.submit("segv", None, _segfault)
        pool.submit("raise", None, _fail)
        for i in range(6, 10):
            pool.submit(("sq", i), None, _square, i)
        ended = _drain(pool, 13)
        assert pool.busy == 0
    for i in range(10):
        assert ended[("sq", i)] == Outcome(value=i * i)
    assert ended["exit"].exitcode == 3 and ended["exit"].describe() == "worker exited unexpectedly (status 3)"
    assert ended["segv"].exitcode == -signal.SIGSEGV
    assert ended["segv"].describe() == "worker crashed (signal 11, SIGSEGV)"
    assert ended["raise"].error == "ValueError('bad input')" and not ended["raise"].ok
    assert pool.replaced == 2  # the two dead workers, nothing else


def test_a_task_past_its_deadline_has_its_worker_killed_and_replaced() -> None:
    with WorkerPool(1) as pool:
        pool.submit("pid", None, _pid)
        hung_pid = _drain(pool, 1)["pid"].value
        pool.submit("hang", 0.5, time.sleep, 3600)
        pool.submit("after", None, _pid)  # queued behind the hung task on the only worker
        ended = _drain(pool, 2)
        assert ended["hang"].timed_out == 0.5 and "timed out after 0.5 s" in ended["hang"].describe()
        assert ended["after"].ok and ended["after"].value != hung_pid  # a new worker ran it
        assert not os.path.exists(f"/proc/{hung_pid}")  # killed and reaped, not left running
        assert pool.replaced == 1


def test_shutdown_kills_busy_workers_and_the_pool_restarts_on_use() -> None:
    pool = WorkerPool(1)
    pool.submit("pid", None, _pid)
    worker_pid = _drain(pool, 1)["pid"].value
    pool.submit("hang", None, time.sleep, 3600)
    pool._dispatch()  # the worker takes the task
    pool.shutdown()
    assert not os.path.exists(f"/proc/{worker_pid}") and pool.busy == 0
    pool.submit("again", None, _square, 7)
    assert _drain(pool, 1)["again"].value == 49
    pool.shutdown()
