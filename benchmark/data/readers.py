"""Streaming, vectorised log readers for `.log`, `.gz`, `.zip` and `.tar.gz`.

The raw file is read in large byte blocks (never unpacked to disk); each block becomes a pyarrow
string array of lines without copying, and fields are split with the format's RE2 regex
(`pyarrow.compute.extract_regex`), so no Python code runs per line.

Formats come from the registry in benchmark.data.formats (bgl, cfdr, zookeeper: Loghub
structures, separators are runs of spaces). Timestamps are float seconds, read by the format.
Labels (int8, 1 = anomalous): rule "first_field" — first field `-` is normal, anything else
anomalous; rule "level" — the level is in `anomalous_levels`.

Bad input, decided here:
* A line that does not match the format (including an unparsable timestamp or a blank line) is
  an *unparsed line*: kept, content = the raw line, counted, first line numbers logged. Its
  timestamp is the previous line's (the next parsed line's for leading lines, see
  `fill_timestamps`). Its label: rule "first_field" applies to the line's first space-separated
  token (a blank line is normal); rule "level" gives 0. `strict=True` raises instead.
* Invalid UTF-8 bytes are replaced by U+FFFD (the protocol: decode with replacement); such lines are
  counted and logged, and `strict=True` raises naming the first one.
* DataError (one line naming the file): missing, unreadable or not a regular file (checked with
  os.stat before opening, so a FIFO never blocks), empty file, binary data (a
  NUL byte or more than 10 % control bytes in the first 64 KiB), corrupt or truncated
  .gz/.zip/.tar.gz, missing archive member, and a file whose first block has no line matching the
  format at all (wrong file for the dataset).
"""

from __future__ import annotations

import gzip
import logging
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from benchmark.data.cache import HashingTap, regular_file_stat, remember_identity
from benchmark.data.errors import DataError
from benchmark.data.formats import get_format

log = logging.getLogger(__name__)

DEFAULT_BLOCK_BYTES = 32 << 20
SNIFF_BYTES = 64 << 10
MAX_REPORTED_LINES = 5

@dataclass(frozen=True, eq=False)
class LineChunk:
    """Consecutive lines of one block. start: 0-based index of the first line in the file.
    contents: (n,) pyarrow strings (content field, or the raw line when unparsed);
    timestamps: (n,) float64 seconds, NaN where unparsed; labels: (n,) int8; unparsed: (n,) bool."""

    start: int
    contents: pa.Array
    timestamps: np.ndarray
    labels: np.ndarray
    unparsed: np.ndarray


@dataclass
class ReadStats:
    """What reading found. Line numbers are 1-based."""

    lines: int = 0
    unparsed_lines: int = 0
    invalid_utf8_lines: int = 0
    first_unparsed: list[int] = field(default_factory=list)
    first_invalid_utf8: list[int] = field(default_factory=list)
    truncated: bool = False


class LogReader:
    """Iterate over `LineChunk`s of `path` (`member` inside a .zip/.tar.gz); `stats` fills as it
    goes. At most `max_lines` lines are read; `stats.truncated` says whether more were there.

    hash_input: hash the raw bytes of a plain or gzip file while streaming them (the rest of the
    file too when reading stops early); after a full iteration `identity` is the file's
    `content_identity` (also memoised). None for .zip/.tar.gz members (their archive is hashed
    by `content_identity` in its own pass) or when not asked."""

    def __init__(self, path: Path, fmt: str, *, member: str | None = None,
                 label_rule: str = "first_field", anomalous_levels: tuple[str, ...] = ("ERROR",),
                 max_lines: int | None = None, strict: bool = False,
                 block_bytes: int = DEFAULT_BLOCK_BYTES, hash_input: bool = False) -> None:
        self.format = get_format(fmt)
        if label_rule == "level" and not self.format.has_level:
            raise DataError(f"format {fmt!r} has no level field for label_rule 'level'")
        self.path = Path(path)
        self.fmt = fmt
        self.member = member
        self.label_rule = label_rule
        self.anomalous_levels = pa.array(list(anomalous_levels), pa.string())
        self.max_lines = max_lines
        self.strict = strict
        self.block_bytes = block_bytes
        self.hash_input = hash_input
        self.stats = ReadStats()
        self.identity: dict | None = None

    def __iter__(self) -> Iterator[LineChunk]:
        self.stats = ReadStats()
        self.identity = None
        tap = HashingTap() if self.hash_input else None
        before = regular_file_stat(self.path)
        with open_binary(self.path, self.member, tap) as stream:
            first = True
            for block in _guarded_blocks(stream, self.block_bytes, self.path):
                if first:
                    _check_text(block[:SNIFF_BYTES], self.path)
                if self.max_lines is not None and self.stats.lines >= self.max_lines:
                    self.stats.truncated = True
                    break
                chunk = self._parse_block(block)
                if first and chunk.unparsed.all() and len(chunk.unparsed) > 0:
                    sample = chunk.contents[0].as_py()[:80]
                    raise DataError(f"{self.path}: no line matches the {self.fmt} format "
                                    f"(line 1: {sample!r}); wrong file for this dataset?")
                first = False
                yield chunk
            if tap is not None and tap.raw is not None:
                self.identity = tap.finish()
                remember_identity(self.path, before, self.identity)
        if self.stats.lines == 0:
            raise DataError(f"{self.path}: empty file (no lines)")
        self._log_summary()

    def _parse_block(self, block: bytes) -> LineChunk:
        start = self.stats.lines
        lines, invalid_rows = _lines_of(block)
        if self.max_lines is not None and start + len(lines) > self.max_lines:
            keep = self.max_lines - start
            lines = lines.slice(0, keep)
            invalid_rows = invalid_rows[invalid_rows < keep]
            self.stats.truncated = True
        n = len(lines)
        if len(invalid_rows):
            self._note(self.stats.first_invalid_utf8, start + invalid_rows + 1)
            self.stats.invalid_utf8_lines += len(invalid_rows)
            if self.strict:
                raise DataError(f"{self.path}:{start + int(invalid_rows[0]) + 1}: invalid UTF-8")
        fields = pc.extract_regex(lines, self.format.header)
        parsed = fields.is_valid().to_numpy(zero_copy_only=False)
        timestamps = self._timestamps(fields, parsed)  # a matching line with a bad date → NaN
        parsed &= ~np.isnan(timestamps)
        unparsed_rows = np.flatnonzero(~parsed)
        if len(unparsed_rows):
            self._note(self.stats.first_unparsed, start + unparsed_rows + 1)
            self.stats.unparsed_lines += len(unparsed_rows)
            if self.strict:
                row = int(unparsed_rows[0])
                raise DataError(f"{self.path}:{start + row + 1}: line does not match the "
                                f"{self.fmt} format: {lines[row].as_py().rstrip()[:80]!r}")
        head = pc.binary_length(pc.struct_field(fields, "head")).fill_null(0)
        head = np.where(parsed, head.to_numpy(zero_copy_only=False), 0)
        contents = _contents(lines, head)
        labels = self._labels(fields, parsed, lines)
        self.stats.lines += n
        return LineChunk(start, contents, timestamps, labels, ~parsed)

    def _timestamps(self, fields: pa.StructArray, parsed: np.ndarray) -> np.ndarray:
        out = np.full(len(parsed), np.nan)
        if not parsed.any():
            return out
        seconds = self.format.timestamps(fields.filter(pa.array(parsed)))
        out[parsed] = seconds.to_numpy(zero_copy_only=False)  # null (bad date) → NaN
        return out

    def _labels(self, fields: pa.StructArray, parsed: np.ndarray, lines: pa.Array) -> np.ndarray:
        if self.label_rule == "level":
            hit = pc.is_in(pc.struct_field(fields, "level"), value_set=self.anomalous_levels)
            labels = hit.to_numpy(zero_copy_only=False).astype(np.int8)
            labels[~parsed] = 0
            return labels
        first = pc.struct_field(fields, "label")
        labels = pc.not_equal(first, "-").fill_null(False).to_numpy(zero_copy_only=False)
        labels = labels.astype(np.int8)
        rows = np.flatnonzero(~parsed)
        if len(rows):  # unparsed: the rule on the first space-separated token, blank = normal
            token = pc.struct_field(pc.extract_regex(lines.take(rows), r"^ *(?P<t>[^ \r\n]*)"), "t")
            bad = pc.and_(pc.not_equal(token, "-"), pc.not_equal(token, ""))
            labels[rows] = bad.fill_null(False).to_numpy(zero_copy_only=False)
        return labels

    def _note(self, store: list[int], line_numbers: np.ndarray) -> None:
        room = MAX_REPORTED_LINES - len(store)
        if room > 0:
            store.extend(int(x) for x in line_numbers[:room])

    def _log_summary(self) -> None:
        s = self.stats
        if s.unparsed_lines:
            log.warning("%s: %d of %d lines do not match the %s format (kept, content = raw "
                        "line); first at line(s) %s", self.path, s.unparsed_lines, s.lines,
                        self.fmt, ", ".join(map(str, s.first_unparsed)))
        if s.invalid_utf8_lines:
            log.warning("%s: %d lines hold invalid UTF-8 (replaced by U+FFFD); first at line(s) "
                        "%s", self.path, s.invalid_utf8_lines,
                        ", ".join(map(str, s.first_invalid_utf8)))
        if s.truncated:
            log.info("%s: read the first %d lines (max_lines)", self.path, s.lines)


def read_all(path: Path, fmt: str, **kwargs) -> tuple[pa.Array, np.ndarray, np.ndarray,
                                                       np.ndarray, ReadStats]:
    """Whole file at once (for small files and tests): contents, timestamps (filled), labels,
    unparsed flags and stats."""
    reader = LogReader(path, fmt, **kwargs)
    chunks = list(reader)
    contents = pa.chunked_array([c.contents for c in chunks], pa.string()).combine_chunks()
    timestamps = fill_timestamps(np.concatenate([c.timestamps for c in chunks]))
    labels = np.concatenate([c.labels for c in chunks])
    unparsed = np.concatenate([c.unparsed for c in chunks])
    return contents, timestamps, labels, unparsed, reader.stats


def fill_timestamps(timestamps: np.ndarray) -> np.ndarray:
    """(L,) float64 with NaN (unparsed lines) replaced by the previous line's timestamp; leading
    NaNs take the first valid timestamp (0.0 if there is none)."""
    valid = ~np.isnan(timestamps)
    if valid.all():
        return timestamps
    if not valid.any():
        return np.zeros_like(timestamps)
    index = np.where(valid, np.arange(len(timestamps)), 0)
    np.maximum.accumulate(index, out=index)
    index[: np.argmax(valid)] = np.argmax(valid)
    return timestamps[index]


@contextmanager
def open_binary(path: Path, member: str | None = None,
                tap: HashingTap | None = None) -> Iterator[BinaryIO]:
    """Binary stream of the log: plain file, gzip stream, or `member` of a .zip / .tar.gz (chosen
    by magic bytes; a gzip file is read as tar when named .tar.gz/.tgz). Never unpacks to disk.
    A plain or gzip file is read through `tap` when given (`tap.raw` is set to the open file)."""
    path = Path(path)
    regular_file_stat(path)
    try:
        with open(path, "rb") as probe:
            magic = probe.read(4)
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror}") from None
    name = path.name.lower()
    try:
        if magic[:2] == b"\x1f\x8b" and name.endswith((".tar.gz", ".tgz")):
            with tarfile.open(path, "r:gz") as tar:
                yield _tar_member(tar, path, member)
        elif magic[:2] == b"\x1f\x8b":
            with open(path, "rb") as raw, \
                    gzip.GzipFile(fileobj=_tapped(raw, tap), mode="rb") as stream:
                yield stream
        elif magic == b"PK\x03\x04":
            with zipfile.ZipFile(path) as archive:
                with archive.open(_zip_member(archive, path, member)) as stream:
                    yield stream
        else:
            with open(path, "rb") as raw:
                yield _tapped(raw, tap)
    except (tarfile.TarError, zipfile.BadZipFile, gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: corrupt or truncated archive: {exc}") from None


def _tapped(raw: BinaryIO, tap: HashingTap | None) -> BinaryIO:
    if tap is None:
        return raw
    tap.raw = raw
    return tap  # type: ignore[return-value]


def _zip_member(archive: zipfile.ZipFile, path: Path, member: str | None) -> str:
    names = [n for n in archive.namelist() if not n.endswith("/")]
    return _pick_member(names, path, member)


def _tar_member(tar: tarfile.TarFile, path: Path, member: str | None) -> BinaryIO:
    infos = [m for m in tar if m.isfile()]
    chosen = _pick_member([m.name for m in infos], path, member)
    stream = tar.extractfile(next(m for m in infos if m.name == chosen))
    assert stream is not None
    return stream


def _pick_member(names: list[str], path: Path, member: str | None) -> str:
    if member is None:
        if len(names) == 1:
            return names[0]
        raise DataError(f"{path}: archive holds {len(names)} files, the card names no member")
    for name in names:
        if name == member or name.rsplit("/", 1)[-1] == member:
            return name
    raise DataError(f"{path}: no member {member!r} in archive (has: {', '.join(names[:10])})")


def _guarded_blocks(stream: BinaryIO, block_bytes: int, path: Path) -> Iterator[memoryview]:
    """Byte blocks that end at a newline (the last one may not), read with `readinto` into fresh
    buffers (no concatenation copies); decompression errors → DataError."""
    rest = b""
    while True:
        buffer = bytearray(len(rest) + block_bytes)
        buffer[: len(rest)] = rest
        filled = len(rest)
        view = memoryview(buffer)
        try:
            while filled < len(buffer):
                got = stream.readinto(view[filled:])
                if not got:
                    break
                filled += got
        except (EOFError, zlib.error, gzip.BadGzipFile, zipfile.BadZipFile, tarfile.TarError,
                OSError) as exc:
            raise DataError(f"{path}: corrupt or truncated compressed data: {exc}") from None
        if filled == 0:
            return
        at_end = filled < len(buffer)
        cut = buffer.rfind(b"\n", 0, filled)
        if at_end or cut < 0 and filled == len(buffer) and len(buffer) > 8 * block_bytes:
            yield view[:filled]  # the last block, or a pathological line longer than 8 blocks
            if at_end:
                return
            rest = b""
            continue
        if cut < 0:
            rest = bytes(view[:filled])
            continue
        rest = bytes(view[cut + 1 : filled])
        yield view[: cut + 1]


def _check_text(sample: bytes, path: Path) -> None:
    sample = bytes(sample)
    if not sample:
        return
    if b"\x00" in sample:
        raise DataError(f"{path}: binary data (NUL bytes), not a text log")
    codes = np.frombuffer(sample, np.uint8)
    control = (codes < 32) & ~np.isin(codes, (9, 10, 11, 12, 13, 27))
    if control.mean() > 0.10:
        raise DataError(f"{path}: binary data ({control.mean():.0%} control bytes in the first "
                        f"{len(sample) // 1024 or 1} KiB), not a text log")


def _lines_of(block: memoryview) -> tuple[pa.Array, np.ndarray]:
    """The lines of a block as a string array (each keeps its newline; zero-copy when the block is
    valid UTF-8) and the row indices of lines that held invalid UTF-8 (then replaced)."""
    lines = _split(block)
    try:
        lines.validate(full=True)
        return lines, np.empty(0, np.int64)
    except pa.ArrowInvalid:
        pass
    block = bytes(block)
    pieces = block.split(b"\n")
    invalid = []
    for row, piece in enumerate(pieces):
        try:
            piece.decode("utf-8")
        except UnicodeDecodeError:
            invalid.append(row)
    fixed = block.decode("utf-8", errors="replace").encode("utf-8")
    return _split(fixed), np.asarray(invalid, np.int64)


def _contents(lines: pa.Array, head: np.ndarray) -> pa.Array:
    """(n,) strings: each line from byte `head[i]` on, without its trailing \\n or \\r\\n, gathered
    into one new buffer with numpy (no per-line Python)."""
    _, offset_buffer, data_buffer = lines.buffers()
    width = np.int64 if pa.types.is_large_string(lines.type) else np.int32
    offsets = np.frombuffer(offset_buffer, width)[lines.offset : lines.offset + len(lines) + 1]
    offsets = offsets.astype(np.int64)
    data = np.frombuffer(data_buffer, np.uint8)
    ends = offsets[1:].copy()
    for byte in (10, 13):  # strip "\n", then "\r"
        nonempty = ends > offsets[:-1]
        ends[nonempty] -= data[ends[nonempty] - 1] == byte
    starts = np.minimum(offsets[:-1] + head, ends)
    segments = np.empty(3 * len(starts), np.int64)  # per line: skip head, keep content, skip EOL
    segments[0::3] = starts - offsets[:-1]
    segments[1::3] = ends - starts
    segments[2::3] = offsets[1:] - ends
    keep = np.repeat(np.tile(np.array([False, True, False]), len(starts)), segments)
    body = data[offsets[0]: offsets[-1]][keep]
    new_offsets = np.zeros(len(starts) + 1, np.int64)
    np.cumsum(ends - starts, out=new_offsets[1:])
    kind = pa.string()
    if new_offsets[-1] < 2**31:
        new_offsets = new_offsets.astype(np.int32)
    else:
        kind = pa.large_string()
    return pa.Array.from_buffers(kind, len(starts), [None, pa.py_buffer(new_offsets),
                                                      pa.py_buffer(body)])


def _split(block: bytes | memoryview) -> pa.Array:
    ends = np.flatnonzero(np.frombuffer(block, np.uint8) == 10) + 1
    if len(ends) == 0 or ends[-1] != len(block):
        ends = np.append(ends, len(block))
    offsets = np.empty(len(ends) + 1, np.int64 if len(block) >= 2**31 else np.int32)
    offsets[0] = 0
    offsets[1:] = ends
    kind = pa.large_string() if offsets.dtype == np.int64 else pa.string()
    return pa.Array.from_buffers(kind, len(ends), [None, pa.py_buffer(offsets),
                                                    pa.py_buffer(block)])
