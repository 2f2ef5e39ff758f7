"""Log formats: a registry, like models. A format = one header regex + how to read its time.

`LogFormat.header` is an RE2 pattern (pyarrow.compute.extract_regex) for everything before the
content: group `head` spans the whole header including the spaces before the content; `label`
(the first field, for label_rule "first_field") and `level` (for label_rule "level") are optional
named groups; the time groups are the format's own, read by `timestamps`. Content = the rest of
the line. Matching only the header keeps RE2 off the (long) content, which is what makes the
reader fast. Adding a format = one `register_format(LogFormat(...))` call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from benchmark.data.errors import DataError


@dataclass(frozen=True)
class LogFormat:
    """name: as cards name it; header: RE2 header pattern (see module docstring);
    timestamps(fields) -> (n,) float64 seconds of parsed rows (null = unparsable time);
    layout: the fields in order, for documentation and error messages."""

    name: str
    header: str
    timestamps: Callable[[pa.StructArray], pa.Array]
    layout: str

    @property
    def has_level(self) -> bool:
        return "(?P<level>" in self.header


_FORMATS: dict[str, LogFormat] = {}


def register_format(fmt: LogFormat) -> LogFormat:
    """Add a format; a duplicate name raises ValueError."""
    if fmt.name in _FORMATS:
        raise ValueError(f"log format {fmt.name!r} is already registered")
    _FORMATS[fmt.name] = fmt
    return fmt


def get_format(name: str) -> LogFormat:
    """The registered format `name`; DataError naming the known ones otherwise."""
    try:
        return _FORMATS[name]
    except KeyError:
        raise DataError(f"unknown log format {name!r}; known: {', '.join(known_formats())}") \
            from None


def known_formats() -> list[str]:
    return sorted(_FORMATS)


def epoch_seconds(fields: pa.StructArray) -> pa.Array:
    """Seconds from an integer `epoch` group."""
    return pc.struct_field(fields, "epoch").cast(pa.int64()).cast(pa.float64())


def datetime_millis_seconds(fields: pa.StructArray) -> pa.Array:
    """Seconds from `datetime` (YYYY-MM-DD HH:MM:SS, read as UTC) plus `ms` milliseconds."""
    ms = pc.strptime(pc.struct_field(fields, "datetime"), format="%Y-%m-%d %H:%M:%S",
                     unit="ms", error_is_null=True).cast(pa.int64())
    ms = pc.add(ms, pc.struct_field(fields, "ms").cast(pa.int64()))
    return pc.divide(ms.cast(pa.float64()), 1000.0)


_END = r"(?: +|\r?\n?$))"
_DATE = r"[0-9]{4}\.[0-9]{2}\.[0-9]{2}"  # bgl, cfdr: YYYY.MM.DD (rejects syslog-style lines)

register_format(LogFormat(
    "bgl",
    r"^(?P<head>(?P<label>[^ \r\n]+) +(?P<epoch>[0-9]{1,18}) +" + _DATE + r" +[^ ]+"
    r" +[0-9]{4}-[0-9]{2}-[0-9]{2}-[^ ]+ +[^ ]+ +[^ ]+ +[^ ]+ +(?P<level>[^ \r\n]+)" + _END,
    epoch_seconds,
    "Label Timestamp Date Node Time NodeRepeat Type Component Level Content"))
register_format(LogFormat(
    "cfdr",
    r"^(?P<head>(?P<label>[^ \r\n]+) +(?P<epoch>[0-9]{1,18}) +" + _DATE + r" +[^ ]+"
    r" +[^ ]+ +[^ ]+ +[^ ]+ +[^ \r\n]+" + _END,
    epoch_seconds,
    "Label Timestamp Date Node Month Day Time Location Content (Spirit, Thunderbird)"))
register_format(LogFormat(
    "zookeeper",
    r"^(?P<head>(?P<datetime>[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}),"
    r"(?P<ms>[0-9]{3}) +- +(?P<level>[A-Z]+) +\[(?P<node>.*?)\] +-" + _END,
    datetime_millis_seconds,
    "YYYY-MM-DD HH:MM:SS,mmm - Level [Node] - Content"))
