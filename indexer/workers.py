"""Phase 2's worker processes: one task at a time each, with a deadline; hung or dead workers are replaced.

``concurrent.futures.ProcessPoolExecutor`` can neither stop one hung task nor
tell which task killed a worker (every task in flight fails with
``BrokenProcessPool``). Here each worker runs one task at a time over its own
pipe, so the parent always knows which task a worker holds: a task that runs
past its deadline has its worker killed (SIGKILL) and replaced, a worker that
dies (segfault, ``os._exit``, the OOM killer) is attributed to exactly the
task it held and replaced, and every other task goes on undisturbed.

Workers come from a ``forkserver``: they start clean, without the parent's
threads (watchdog, trio) or its SQLite handle, and are niced so a running
index leaves the desktop (and the mount) responsive.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Hashable

log = logging.getLogger(__name__)

JOIN_S = 5.0


@dataclass(frozen=True)
class Outcome:
    """How one task ended: a value, an exception raised in the worker, a timeout or a dead worker."""

    value: Any = None
    error: str | None = None  # repr of an exception the task raised (a bug, not bad input)
    timed_out: float | None = None  # the deadline, in seconds, that the task ran past
    exitcode: int | None = None  # set when the worker died: negative = killed by that signal

    @property
    def ok(self) -> bool:
        return self.error is None and self.timed_out is None and self.exitcode is None

    def describe(self) -> str:
        """One line for the failures table."""
        if self.timed_out is not None:
            return f"timed out after {self.timed_out:g} s while reading or decoding the file"
        if self.exitcode is not None:
            return describe_exit(self.exitcode)
        return f"internal error: {self.error}"


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "unknown signal"
        hint = ": out of memory?" if -code == signal.SIGKILL else ""
        return f"worker crashed (signal {-code}, {name}{hint})"
    return f"worker exited unexpectedly (status {code})"


def _worker_main(conn: Connection) -> None:
    # Ctrl-C reaches the whole process group: the parent handles it and stops its workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        os.nice(5)
    except OSError:
        pass
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        fn, args = message
        try:
            reply: tuple[str, Any] = ("ok", fn(*args))
        except Exception as exc:
            reply = ("error", repr(exc))
        try:
            conn.send(reply)
        except Exception as exc:  # e.g. a value that cannot be pickled
            conn.send(("error", f"result not transferable: {exc!r}"))


class _Worker:
    def __init__(self, ctx: Any) -> None:
        self.conn, child = ctx.Pipe(duplex=True)
        self.process = ctx.Process(target=_worker_main, args=(child,), name="gallerfs-phase2", daemon=True)
        self.process.start()
        child.close()  # the parent's copy: without closing it a dead worker would never read as EOF
        self.key: Hashable | None = None
        self.deadline = float("inf")
        self.timeout: float | None = None

    def stop(self, kill: bool) -> None:
        if kill:
            self.process.kill()
        else:
            try:
                self.conn.send(None)
            except OSError:
                self.process.kill()
        self.process.join(JOIN_S)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(JOIN_S)
        self.conn.close()


class WorkerPool:
    """A fixed number of worker processes running submitted calls, each with an optional time limit."""

    def __init__(self, workers: int, preload: tuple[str, ...] = ()) -> None:
        """preload: modules the forkserver imports once, so that a new worker starts in milliseconds and its
        first task's time limit is not spent importing (only effective before the forkserver first starts)."""
        self._ctx = multiprocessing.get_context("forkserver")
        if preload:
            self._ctx.set_forkserver_preload(list(preload))
        self._size = max(1, workers)
        self._workers: list[_Worker] = []
        self._queue: deque[tuple[Hashable, float | None, Callable[..., Any], tuple[Any, ...]]] = deque()
        self.replaced = 0  # workers killed or found dead, and started anew

    def submit(self, key: Hashable, timeout_s: float | None, fn: Callable[..., Any], *args: Any) -> None:
        """Queue fn(*args) under key; timeout_s counts from the moment a worker starts it (None: no limit)."""
        self._queue.append((key, timeout_s, fn, args))

    @property
    def busy(self) -> int:
        return len(self._queue) + sum(1 for w in self._workers if w.key is not None)

    def _dispatch(self) -> None:
        while len(self._workers) < self._size:
            self._workers.append(_Worker(self._ctx))
        for worker in self._workers:
            if not self._queue:
                return
            if worker.key is not None:
                continue
            key, timeout_s, fn, args = self._queue.popleft()
            worker.key, worker.timeout = key, timeout_s
            worker.deadline = time.monotonic() + timeout_s if timeout_s else float("inf")
            try:
                worker.conn.send((fn, args))
            except OSError:  # died while idle: its replacement takes the task on the next round
                self._queue.appendleft((key, timeout_s, fn, args))
                worker.key = None
                self._replace(worker, kill=True)

    def _replace(self, worker: _Worker, *, kill: bool) -> None:
        worker.stop(kill=kill)
        self._workers[self._workers.index(worker)] = _Worker(self._ctx)
        self.replaced += 1

    def wait(self) -> list[tuple[Hashable, Outcome]]:
        """Block until at least one task ends (or a deadline passes); returns what ended. [] when idle."""
        self._dispatch()
        busy = [w for w in self._workers if w.key is not None]
        if not busy:
            return []
        nearest = min(w.deadline for w in busy)
        timeout = None if nearest == float("inf") else max(0.0, nearest - time.monotonic())
        ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout))
        ended: list[tuple[Hashable, Outcome]] = []
        for worker in busy:
            key = worker.key
            # poll() again rather than trust `ready` alone: a reply that arrived while another worker was being
            # replaced must not be mistaken for a timeout.
            if worker.conn in ready or worker.process.sentinel in ready or worker.conn.poll():
                outcome = self._collect(worker)
                worker.key = None
                if outcome.exitcode is not None:
                    self._replace(worker, kill=True)
                ended.append((key, outcome))
            elif time.monotonic() >= worker.deadline:
                log.warning("phase 2 worker %d ran past %g s: killed", worker.process.pid, worker.timeout)
                worker.key = None
                self._replace(worker, kill=True)
                ended.append((key, Outcome(timed_out=worker.timeout)))
        self._dispatch()
        return ended

    def _collect(self, worker: _Worker) -> Outcome:
        try:
            if worker.conn.poll():
                status, value = worker.conn.recv()
                return Outcome(value=value) if status == "ok" else Outcome(error=value)
        except Exception:  # EOF or a reply cut short by the worker's death
            pass
        worker.process.join(JOIN_S)
        code = worker.process.exitcode
        return Outcome(exitcode=code if code is not None else -signal.SIGKILL)

    def shutdown(self) -> None:
        """Stop every worker: idle ones are asked to exit, busy ones are killed. Queued tasks are dropped."""
        self._queue.clear()
        for worker in self._workers:
            worker.stop(kill=worker.key is not None)
        self._workers.clear()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
