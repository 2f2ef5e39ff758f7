"""Every cache corruption is reported with a warning naming the entry and rebuilt: the data equal
an uncorrupted run's; a cache path that is not a directory is a clear error."""

from __future__ import annotations

import pytest
from cases import BGL_2K, CACHE_CASES, cache_path_is_a_file, fingerprint, prepare, run_cache_case
from loghub import needs

from benchmark.data import cache as cache_module

pytestmark = needs("BGL_2k.log")


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """A finished cache of BGL_2k and the fingerprint of its data."""
    work = tmp_path_factory.mktemp("baseline")
    raw = work / BGL_2K.name
    raw.write_bytes(BGL_2K.read_bytes())
    data, outcome = prepare(raw, work / "data")
    assert data is not None, outcome
    again, outcome = prepare(raw, work / "data")  # from the cache, no warning
    assert fingerprint(again) == fingerprint(data) and not outcome.warnings
    return work / "data" / "cache" / "bgl", raw, fingerprint(data)


@pytest.mark.parametrize("case", CACHE_CASES, ids=[c.name for c in CACHE_CASES])
def test_corruption_is_reported_and_rebuilt(case, baseline, tmp_path):
    cache_root, raw, expected = baseline
    assert run_cache_case(case, tmp_path, cache_root, raw, expected) == "rebuild"


def test_rebuilt_entry_is_valid_again(baseline, tmp_path):
    cache_root, raw, expected = baseline
    case = next(c for c in CACHE_CASES if c.name == "labels zeroed in a valid .npy")
    assert run_cache_case(case, tmp_path, cache_root, raw, expected) == "rebuild"
    data, outcome = prepare(tmp_path / raw.name, tmp_path / "data")
    assert fingerprint(data) == expected and not outcome.warnings


def test_cache_path_that_is_a_file_is_a_clear_error(tmp_path):
    assert cache_path_is_a_file(tmp_path, BGL_2K) == "clear error"


def test_content_identity_hashes_every_byte_once_per_content(tmp_path):
    path = tmp_path / "a.log"
    path.write_bytes(b"x" * 1000)
    first = cache_module.content_identity(path)
    assert first == {"size": 1000, "sha256": __import__("hashlib").sha256(b"x" * 1000)
                     .hexdigest()}
    assert cache_module.known_identity(path) == first
    with open(path, "r+b") as handle:  # same size, one byte in the middle
        handle.seek(500)
        handle.write(b"y")
    assert cache_module.known_identity(path) is None
    assert cache_module.content_identity(path) != first


def test_stream_hash_equals_content_identity(tmp_path):
    import gzip

    from benchmark.data.readers import LogReader

    for name, data in (("a.log", BGL_2K.read_bytes()),
                       ("a.log.gz", gzip.compress(BGL_2K.read_bytes()))):
        path = tmp_path / name
        path.write_bytes(data)
        for limit in (None, 10):
            reader = LogReader(path, "bgl", hash_input=True, max_lines=limit, block_bytes=4096)
            list(reader)
            cache_module._IDENTITIES.clear()
            assert reader.identity == cache_module.content_identity(path)
