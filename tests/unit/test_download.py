"""`fetch_source` and `python -m benchmark download` against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import io
import socket
import tarfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from http_files import serve_files

from benchmark.cli import benchmark_main
from benchmark.data import cards
from benchmark.data.cards import SourceSpec
from benchmark.data.download import fetch_source
from benchmark.data.errors import DataError


def _archive_bytes() -> bytes:
    log = "".join(f"- 111783857{i} 2005.06.03 R02-M1-N0-C:J12-U11 line {i}\n" for i in range(200))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("Tiny/Tiny.log")
        info.size = len(log)
        tar.addfile(info, io.BytesIO(log.encode()))
    return buffer.getvalue()


ARCHIVE = _archive_bytes()
ARCHIVE_MD5 = hashlib.md5(ARCHIVE).hexdigest()


@pytest.fixture
def server():
    """Serves /good.tar.gz (the archive), /corrupt.tar.gz (the archive with flipped bytes) and
    404 elsewhere; `requests` counts GETs per path."""
    corrupt = bytearray(ARCHIVE)
    corrupt[len(corrupt) // 2] ^= 0xFF
    with serve_files({"/good.tar.gz": ARCHIVE, "/corrupt.tar.gz": bytes(corrupt)}) as served:
        yield served


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again on exit: nothing listens there


def _leftovers(directory: Path, keep: str) -> list[str]:
    if not directory.exists():
        return []
    return sorted(p.name for p in directory.iterdir() if p.name != keep)


def test_intact_download_lands_in_raw_dir_and_is_not_fetched_twice(server, tmp_path: Path) -> None:
    url = f"{server.base}/good.tar.gz"
    path = fetch_source("tiny", url, ARCHIVE_MD5, "Tiny.tar.gz", tmp_path, progress=False)
    assert path == (tmp_path / "raw" / "tiny" / "Tiny.tar.gz").resolve()
    assert path.read_bytes() == ARCHIVE
    with tarfile.open(path) as tar:
        assert tar.getnames() == ["Tiny/Tiny.log"]
    assert _leftovers(path.parent, path.name) == []
    assert server.requests == {"/good.tar.gz": 1}

    again = fetch_source("tiny", url, ARCHIVE_MD5.upper(), "Tiny.tar.gz", tmp_path, progress=False)
    assert again == path
    assert server.requests == {"/good.tar.gz": 1}  # verified in place, not downloaded again


def test_corrupted_download_is_rejected_and_not_left_in_place(server, tmp_path: Path) -> None:
    url = f"{server.base}/corrupt.tar.gz"
    with pytest.raises(DataError) as err:
        fetch_source("tiny", url, ARCHIVE_MD5, "Tiny.tar.gz", tmp_path, progress=False)
    message = str(err.value)
    assert "corrupted" in message and ARCHIVE_MD5 in message
    assert hashlib.md5(b"").hexdigest() not in message  # the found hash is the served file's
    assert url in message and str(tmp_path / "raw" / "tiny" / "Tiny.tar.gz") in message
    target_dir = tmp_path / "raw" / "tiny"
    assert not (target_dir / "Tiny.tar.gz").exists()
    assert _leftovers(target_dir, "Tiny.tar.gz") == []  # no temp/partial file either


def test_existing_corrupt_file_is_replaced_by_a_verified_download(server, tmp_path: Path) -> None:
    target = tmp_path / "raw" / "tiny" / "Tiny.tar.gz"
    target.parent.mkdir(parents=True)
    target.write_bytes(ARCHIVE[:100])  # e.g. a truncated copy put there by hand
    path = fetch_source("tiny", f"{server.base}/good.tar.gz", ARCHIVE_MD5, "Tiny.tar.gz",
                        tmp_path, progress=False)
    assert path.read_bytes() == ARCHIVE
    assert server.requests == {"/good.tar.gz": 1}


def test_unreachable_url_gives_manual_instructions(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/BGL.zip"
    with pytest.raises(DataError) as err:
        fetch_source("bgl", url, ARCHIVE_MD5, "BGL.zip", tmp_path, progress=False)
    message = str(err.value)
    assert url in message and str(tmp_path / "raw" / "bgl" / "BGL.zip") in message
    assert "\n" not in message
    assert not (tmp_path / "raw" / "bgl" / "BGL.zip").exists()


def test_http_error_is_a_data_error(server, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="HTTP 404"):
        fetch_source("tiny", f"{server.base}/missing.tar.gz", None, "x.tar.gz", tmp_path,
                     progress=False)


def test_no_md5_downloads_and_warns_with_the_computed_hash(server, tmp_path: Path, caplog) -> None:
    with caplog.at_level("WARNING", logger="benchmark.data.download"):
        path = fetch_source("tiny", f"{server.base}/good.tar.gz", None, "Tiny.tar.gz", tmp_path,
                            progress=False)
    assert path.read_bytes() == ARCHIVE
    assert ARCHIVE_MD5 in caplog.text


def _cli(argv: list[str]) -> int:
    return benchmark_main(["download", *argv])


def test_cli_downloads_reports_errors_and_skips_synthetic(server, tmp_path: Path, monkeypatch,
                                                          capsys) -> None:
    sources = {
        "good": SourceSpec(f"{server.base}/good.tar.gz", ARCHIVE_MD5, "Tiny.tar.gz", "Tiny.log"),
        "bad": SourceSpec(f"{server.base}/corrupt.tar.gz", ARCHIVE_MD5, None, None),
        "synthetic": SourceSpec(),
    }

    def fake_card(name: str):
        if name not in sources:
            raise DataError(f"unknown dataset {name!r}")
        return SimpleNamespace(source=sources[name])

    monkeypatch.setattr(cards, "load_card", fake_card)
    assert _cli(["good", "synthetic", "--data-dir", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "synthetic: generated locally" in out
    assert (tmp_path / "raw" / "good" / "Tiny.tar.gz").read_bytes() == ARCHIVE

    assert _cli(["bad", "nosuch", "good", "--data-dir", str(tmp_path), "--no-progress"]) == 2
    captured = capsys.readouterr()
    errors = captured.err.strip().splitlines()
    assert errors[0].startswith("error: bad: downloaded file is corrupted")
    assert errors[1] == "error: unknown dataset 'nosuch'"
    assert "Traceback" not in captured.err
    assert "good:" in captured.out  # the remaining dataset is still handled
    # No filename in the card: the URL's basename is used.
    assert not (tmp_path / "raw" / "bad" / "corrupt.tar.gz").exists()


def test_cli_real_synthetic_card_needs_no_download(tmp_path: Path, capsys) -> None:
    assert _cli(["synthetic", "--data-dir", str(tmp_path)]) == 0
    assert "generated locally" in capsys.readouterr().out
    assert not (tmp_path / "raw").exists()
