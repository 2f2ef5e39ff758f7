"""A clean stop: SIGINT / SIGTERM to the driver stop every worker process within seconds.

`stop_on_signals()` turns SIGINT and SIGTERM, while it is active in the main thread, into
`Interrupted` (a KeyboardInterrupt carrying the signal number). Before raising, the handler ends
this process's descendants (joblib/loky workers, a Dask LocalCluster's nannies and workers)
with SIGKILL. A worker killed mid-epoch loses only that epoch: the trainer checkpoints every
finished epoch (atomically), so rerunning the command resumes.
The exit code is 128 + the signal number (130 for SIGINT, 143 for SIGTERM).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

GRACE_SECONDS = 3.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """The driver was asked to stop by signal `signum`."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def stop_workers(grace: float = GRACE_SECONDS) -> int:
    """Kill every descendant process of this one (SIGKILL: a Dask nanny given SIGTERM restarts
    its worker first) and wait up to `grace` s for them; returns how many there were."""
    import psutil

    try:
        children = [p for p in psutil.Process().children(recursive=True) if not _tracker(p)]
    except psutil.Error:
        return 0
    for child in children:
        try:
            child.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(children, timeout=grace)
    return len(children)


def _tracker(process) -> bool:
    """multiprocessing's resource tracker: it ends with this process and cleans up after the
    workers (shared memory, semaphores), so it is left alone."""
    import psutil

    try:
        return "resource_tracker" in " ".join(process.cmdline())
    except psutil.Error:
        return False


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """While active (main thread only; elsewhere a no-op), SIGINT and SIGTERM stop the workers
    and raise Interrupted in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        for sig in STOP_SIGNALS:  # a second signal while stopping must not interrupt the stop
            signal.signal(sig, signal.SIG_IGN)
        count = stop_workers()
        log.debug("stopped %d worker process(es) on %s", count, signal.Signals(signum).name)
        raise Interrupted(signum)

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
