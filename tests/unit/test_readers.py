"""Readers: formats, labels, archives, chunk boundaries, and one test per kind of bad input."""

from __future__ import annotations

import gzip
import io
import logging
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from loghub import loghub_file

from benchmark.data.errors import DataError
from benchmark.data.readers import LogReader, fill_timestamps, read_all

BGL_LINES = [
    "- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 "
    "RAS KERNEL INFO instruction cache parity error corrected",
    "KERNDTLB 1117838575 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.55.000000 "
    "R02-M1-N0-C:J12-U11 RAS KERNEL FATAL data TLB error interrupt",
    "- 1117838640 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.44.00.000000 R02-M1-N0-C:J12-U11 "
    "RAS KERNEL INFO generating core.2275",
]


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_bgl_fields_labels_and_timestamps(tmp_path):
    contents, times, labels, unparsed, stats = read_all(write(tmp_path / "a.log", BGL_LINES),
                                                        "bgl")
    assert contents.to_pylist() == ["instruction cache parity error corrected",
                                    "data TLB error interrupt", "generating core.2275"]
    assert labels.tolist() == [0, 1, 0]
    assert times.tolist() == [1117838570.0, 1117838575.0, 1117838640.0]
    assert not unparsed.any() and stats.lines == 3 and not stats.truncated


def test_cfdr_format(tmp_path):
    lines = ["- 1104566400 2005.01.01 sn373 Jan 1 00:00:00 sn373/sn373 kernel: eth0 link up",
             "R_MCE 1104566460 2005.01.01 sn12 Jan  1 00:01:00 sn12/sn12 kernel: MCE bank 4"]
    contents, times, labels, unparsed, _ = read_all(write(tmp_path / "s.log", lines), "cfdr")
    assert contents.to_pylist() == ["kernel: eth0 link up", "kernel: MCE bank 4"]
    assert labels.tolist() == [0, 1] and times.tolist() == [1104566400.0, 1104566460.0]
    assert not unparsed.any()


def test_zookeeper_levels_and_millisecond_timestamps(tmp_path):
    lines = ["2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0.0.0.0:2181:Foo@774] - "
             "Notification time out: 3200",
             "2015-07-29 17:41:45,001 - ERROR [main:QuorumPeer@10] - Unexpected exception",
             "2015-07-29 17:41:46,500 - FATAL [main:QuorumPeer@10] - going down"]
    path = write(tmp_path / "z.log", lines)
    contents, times, labels, _, _ = read_all(path, "zookeeper", label_rule="level")
    assert contents.to_pylist()[0] == "Notification time out: 3200"
    assert labels.tolist() == [0, 1, 0]
    assert times[1] - times[0] == pytest.approx(0.254)
    labels = read_all(path, "zookeeper", label_rule="level",
                      anomalous_levels=("ERROR", "FATAL"))[2]
    assert labels.tolist() == [0, 1, 1]


@pytest.mark.parametrize("name,fmt,rule,anomalous", [
    ("BGL_2k.log", "bgl", "first_field", 143), ("Zookeeper_2k.log", "zookeeper", "level", 13)])
def test_loghub_samples(name, fmt, rule, anomalous):
    path = loghub_file(name)
    _, _, labels, unparsed, stats = read_all(path, fmt, label_rule=rule)
    assert stats.lines == 2000 and int(labels.sum()) == anomalous and not unparsed.any()


def test_archives_and_small_blocks_give_the_same_lines(tmp_path):
    lines = BGL_LINES * 50
    plain = write(tmp_path / "x.log", lines)
    data = plain.read_bytes()
    (tmp_path / "x.log.gz").write_bytes(gzip.compress(data))
    with zipfile.ZipFile(tmp_path / "x.zip", "w") as archive:
        archive.writestr("BGL.log", data)
    with tarfile.open(tmp_path / "x.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("Zk/BGL.log")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    reference = read_all(plain, "bgl")
    for name in ("x.log.gz", "x.zip", "x.tar.gz"):
        got = read_all(tmp_path / name, "bgl", member="BGL.log")
        assert got[0].equals(reference[0]) and np.array_equal(got[2], reference[2])
    small = read_all(plain, "bgl", block_bytes=100)  # lines straddle block boundaries
    assert small[0].equals(reference[0]) and np.array_equal(small[1], reference[1])


def test_last_line_without_newline_and_crlf(tmp_path):
    path = tmp_path / "c.log"
    path.write_bytes(("\r\n".join(BGL_LINES)).encode())
    contents, *_ , stats = read_all(path, "bgl")
    assert contents.to_pylist()[-1] == "generating core.2275"
    assert contents.to_pylist()[0] == "instruction cache parity error corrected"
    assert stats.lines == 3 and stats.unparsed_lines == 0


def test_max_lines_truncates_and_says_so(tmp_path):
    path = write(tmp_path / "a.log", BGL_LINES)
    *_, stats = read_all(path, "bgl", max_lines=2)
    assert stats.lines == 2 and stats.truncated
    *_, stats = read_all(path, "bgl", max_lines=3)
    assert stats.lines == 3 and not stats.truncated


def test_fill_timestamps():
    t = np.array([np.nan, 5.0, np.nan, np.nan, 7.0, np.nan])
    assert fill_timestamps(t).tolist() == [5.0, 5.0, 5.0, 5.0, 7.0, 7.0]


# ---- bad input: one test each -------------------------------------------------------------

def test_wrong_format_lines_are_kept_counted_and_reported(tmp_path, caplog):
    lines = [BGL_LINES[0], "this line is not BGL", "", BGL_LINES[1],
             "APPREAD garbage without fields"]
    path = write(tmp_path / "m.log", lines)
    with caplog.at_level(logging.WARNING):
        contents, times, labels, unparsed, stats = read_all(path, "bgl")
    assert stats.unparsed_lines == 3 and stats.first_unparsed == [2, 3, 5]
    assert unparsed.tolist() == [False, True, True, False, True]
    assert contents.to_pylist()[1] == "this line is not BGL"  # raw line kept as content
    assert labels.tolist() == [0, 1, 0, 1, 1]  # first token rule; blank line normal
    assert times[1] == times[0] and times[4] == times[3]  # previous line's timestamp
    assert "do not match the bgl format" in caplog.text and "2, 3, 5" in caplog.text
    with pytest.raises(DataError, match=r"m\.log:2: line does not match the bgl format"):
        read_all(path, "bgl", strict=True)


def test_file_with_no_matching_line_is_an_error(tmp_path):
    path = write(tmp_path / "zk.log", ["2015-07-29 17:41:44,747 - INFO  [a:b@1] - hello"])
    with pytest.raises(DataError, match=r"zk\.log: no line matches the bgl format"):
        read_all(path, "bgl")


def test_empty_file(tmp_path):
    (tmp_path / "e.log").write_bytes(b"")
    with pytest.raises(DataError, match=r"e\.log: empty file"):
        read_all(tmp_path / "e.log", "bgl")


def test_binary_garbage(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "b.log").write_bytes(rng.integers(0, 256, 10_000, dtype=np.uint8).tobytes())
    with pytest.raises(DataError, match=r"b\.log: binary data"):
        read_all(tmp_path / "b.log", "bgl")


def test_invalid_utf8_is_replaced_counted_and_strict_fails(tmp_path, caplog):
    data = (BGL_LINES[0] + "\n" + BGL_LINES[2]).encode() + b" caf\xe9 \xff\n"
    (tmp_path / "u.log").write_bytes(data)
    with caplog.at_level(logging.WARNING):
        contents, *_, stats = read_all(tmp_path / "u.log", "bgl")
    assert stats.invalid_utf8_lines == 1 and stats.first_invalid_utf8 == [2]
    assert contents.to_pylist()[1] == "generating core.2275 caf\ufffd \ufffd"
    assert "invalid UTF-8" in caplog.text
    with pytest.raises(DataError, match=r"u\.log:2: invalid UTF-8"):
        read_all(tmp_path / "u.log", "bgl", strict=True)


def test_truncated_gzip(tmp_path):
    payload = gzip.compress(("\n".join(BGL_LINES * 200) + "\n").encode())
    (tmp_path / "t.log.gz").write_bytes(payload[: len(payload) // 2])
    with pytest.raises(DataError, match=r"t\.log\.gz: corrupt or truncated"):
        read_all(tmp_path / "t.log.gz", "bgl")


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"nope\.log: no such file"):
        list(LogReader(tmp_path / "nope.log", "bgl"))


def test_missing_archive_member(tmp_path):
    with zipfile.ZipFile(tmp_path / "x.zip", "w") as archive:
        archive.writestr("other.log", BGL_LINES[0] + "\n")
    with pytest.raises(DataError, match=r"x\.zip: no member 'BGL\.log'"):
        read_all(tmp_path / "x.zip", "bgl", member="BGL.log")
