"""Property: random bytes, random line shuffles and random truncations of a real sample (BGL_2k)
end in a result or a clear error (DataError, exit 2, the file named) — never another exception
or a hang (each call under a timeout)."""

from __future__ import annotations

import itertools
import random
import tempfile
from pathlib import Path

from cases import BGL_2K, run_describe
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loghub import needs

pytestmark = needs("BGL_2k.log")

LINES = BGL_2K.read_bytes().splitlines(keepends=True) if BGL_2K.is_file() else []
FUZZ = settings(max_examples=15, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])
_counter = itertools.count()


def ends_cleanly(data: bytes) -> None:
    with tempfile.TemporaryDirectory(prefix="fuzz-") as folder:
        work = Path(folder)
        path = work / f"input-{next(_counter)}.log"
        path.write_bytes(data)
        outcome = run_describe(["bgl", "--data-file", str(path), "--data-dir", str(work / "d"),
                                "--json"], timeout=30)
    assert outcome.traceback is None, outcome.traceback
    assert outcome.code in (0, 2), outcome
    if outcome.code == 2:
        assert outcome.stderr.startswith("error: ") and str(path) in outcome.stderr
    else:
        assert '"lines": ' in outcome.stdout


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes(data):
    ends_cleanly(data)


@settings(FUZZ, max_examples=6)
@given(st.integers(min_value=0, max_value=2**32 - 1), st.integers(min_value=1, max_value=2000))
def test_random_line_shuffles(seed, n_lines):
    lines = LINES[:n_lines]
    random.Random(seed).shuffle(lines)
    ends_cleanly(b"".join(lines))


@settings(FUZZ, max_examples=6)
@given(st.binary(min_size=1, max_size=512), st.integers(min_value=0, max_value=2000))
def test_random_bytes_inside_the_sample(junk, at):
    ends_cleanly(b"".join(LINES[:at]) + junk + b"".join(LINES[at:]))


@settings(FUZZ, max_examples=10)
@given(st.integers(min_value=0, max_value=len(b"".join(LINES))))
def test_random_truncations(cut):
    ends_cleanly(b"".join(LINES)[:cut])
