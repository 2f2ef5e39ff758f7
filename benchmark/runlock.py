"""One lock file per run, next to its record, so that two grids on one results folder split the
work instead of both doing it.

`<record>.lock` (e.g. `runs/bgl/logmilp/seed0.json.lock`) is created with O_EXCL and holds the
holder's pid, host and start time as JSON. A lock whose holder is a dead process on this host
(stale: the grid was killed) is taken over; a lock of a live process, or of another host (whose
processes cannot be checked from here), is respected: that run is left to its holder. The lock
is removed when the run ends, whatever the outcome.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from pathlib import Path

log = logging.getLogger(__name__)

SUFFIX = ".lock"


def lock_path(record: Path) -> Path:
    return Path(record).with_name(Path(record).name + SUFFIX)


class RunLock:
    """The lock of the run whose record is `record`; `acquire()` then `release()`."""

    def __init__(self, record: Path) -> None:
        self.path = lock_path(record)
        self.held = False
        self.holder: dict | None = None
        """Who holds it, when `acquire` returned False."""

    def acquire(self) -> bool:
        """True when this process now holds the lock (a stale one taken over)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            if self._create():
                self.held = True
                return True
            self.holder = _read(self.path)
            if self.holder is None or not _stale(self.holder):
                return False
            log.warning("taking over the stale lock %s (pid %s on %s is gone)", self.path,
                        self.holder.get("pid"), self.holder.get("host"))
            self.path.unlink(missing_ok=True)
        return False

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False

    def describe_holder(self) -> str:
        h = self.holder or {}
        return f"pid {h.get('pid', '?')} on {h.get('host', '?')} (lock {self.path})"

    def _create(self) -> bool:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"pid": os.getpid(), "host": socket.gethostname(),
                       "started": time.time()}, f)
        return True


def _read(path: Path) -> dict | None:
    """The holder of a lock file; a lock being written this instant reads as held (None is
    returned only for a lock that vanished)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {"pid": None, "host": None, "vanished": True}
    except OSError:
        return None
    try:
        holder = json.loads(text)
    except json.JSONDecodeError:
        holder = None
    if not isinstance(holder, dict):
        age = time.time() - path.stat().st_mtime if path.exists() else 0.0
        return {"pid": None, "host": None, "unreadable": age > 60}
    return holder


def _stale(holder: dict) -> bool:
    """The holder is gone: the lock vanished, is unreadable for a minute, or names a dead
    process on this host."""
    if holder.get("vanished") or holder.get("unreadable"):
        return True
    pid = holder.get("pid")
    if holder.get("host") != socket.gethostname() or not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
