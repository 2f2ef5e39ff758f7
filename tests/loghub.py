"""The Loghub 2k samples for tests: found on disk, fetched once if missing, else a named skip.

`loghub_file(name)` looks where `benchmark.data.samples.find_sample` looks ($LOGMILP_LOGHUB_2K,
../shared/data/loghub-2k, the download cache); when none has the file it tries one download per
test session and, if that fails too, skips the test naming the file and the command that fetches
it. With LOGMILP_REQUIRE_SAMPLES=1 (set by .ci/run) a missing sample fails the test instead, so
CI never passes on skipped real-data tests.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest

from benchmark.data.errors import DataError
from benchmark.data.samples import fetch_command, fetch_samples, find_sample, sample_dirs

SET = "loghub-2k"
REQUIRE_ENV = "LOGMILP_REQUIRE_SAMPLES"


@functools.cache
def _download_error() -> str | None:
    """Try the download once per session; None on success, else the reason."""
    try:
        fetch_samples(SET, progress=False)
    except DataError as err:
        return str(err)
    return None


def locate(name: str) -> Path | None:
    """Loghub 2k file `name` (e.g. "BGL_2k.log") on disk, fetched once if missing; else None."""
    path = find_sample(SET, name)
    if path is None and _download_error() is None:
        path = find_sample(SET, name)
    return path


def missing_reason(name: str) -> str:
    """Why `name` is not available, naming where it was looked for and how to fetch it."""
    where = ", ".join(str(d) for d in sample_dirs(SET))
    return (f"{name} not found in {where} and the download failed "
            f"({_download_error()}); fetch it with `{fetch_command(SET)}`")


def required() -> bool:
    """True when a missing sample must fail instead of skip (CI)."""
    return os.environ.get(REQUIRE_ENV) == "1"


def loghub_file(name: str) -> Path:
    """The path of Loghub 2k file `name`, or skip (fail under LOGMILP_REQUIRE_SAMPLES=1)."""
    path = locate(name)
    if path is not None:
        return path
    if required():
        pytest.fail(f"{missing_reason(name)} ({REQUIRE_ENV}=1: real-data tests must not skip)")
    pytest.skip(missing_reason(name))


def needs(name: str) -> pytest.MarkDecorator:
    """A module mark: skip every test of the module when `name` is missing (under
    LOGMILP_REQUIRE_SAMPLES=1 a missing file stops the collection instead)."""
    missing = locate(name) is None
    if missing and required():
        raise RuntimeError(f"{missing_reason(name)} ({REQUIRE_ENV}=1: real-data tests must "
                           f"not skip)")
    return pytest.mark.skipif(missing, reason=missing_reason(name) if missing else "")
