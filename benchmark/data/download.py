"""download raw dataset files (MD5-checked) into <data-dir>/raw/<dataset>/

`fetch_source` downloads one file with pooch: the bytes stream into a temporary file next to the
target and are moved into place only once complete and, when the card gives an MD5, verified. An
interrupted or corrupted download therefore never sits at the target path looking valid; running
the command again starts that file afresh (pooch does not resume byte ranges). A file already in
place with the expected MD5 is not downloaded again.

`verify_raw_file` checks a card's default raw file against the card's MD5 before it is used; the
verdict is remembered per content identity (size + SHA-256), so each content is MD5-checked once.
Each remembered verdict carries an HMAC-SHA256 of (size, SHA-256, expected MD5, found MD5) under
a random key kept beside the verdicts (`.verdict-key`, made on first use): an entry written or
copied by hand, or bound to another file's content, fails the check and the MD5 is computed
again, so a hand edit cannot bless another file.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlparse

from benchmark.data.cache import HASH_BLOCK, HASH_NAME, content_identity
from benchmark.data.errors import DataError

logger = logging.getLogger(__name__)


def fetch_source(name: str, url: str, md5: str | None, filename: str, data_dir: Path,
                 progress: bool = True) -> Path:
    """Return `<data_dir>/raw/<name>/<filename>`, downloading it from `url` if it is missing or
    does not match `md5` (an MD5 hex digest, or `ALG:HEX` for another hashlib algorithm such as
    `sha256:…`; None = no check, the computed MD5 is logged as a warning).

    Raises DataError (one readable message: what went wrong, the URL to fetch by hand, and where
    to put the file) on a hash mismatch, a network failure or an unwritable target directory.
    """
    import pooch
    import requests

    target = (Path(data_dir) / "raw" / name / filename).resolve()
    alg, _, digest = md5.lower().rpartition(":") if md5 else ("", "", "")
    alg = alg or "md5"
    known_hash = f"{alg}:{digest}" if md5 else None
    manual = (f"download {url} by hand and save it as {target}"
              + (f" (expected {known_hash})" if md5 else ""))
    if target.is_file() and (md5 is None or pooch.file_hash(str(target), alg=alg) == digest):
        logger.info("%s: %s already present%s", name, target, f" ({alg} ok)" if md5 else "")
        return target
    if target.exists():
        logger.warning("%s: %s does not match %s; downloading it again", name, target,
                       known_hash)

    downloader = _HashingDownloader(pooch.HTTPDownloader(progressbar=progress), alg)
    try:
        pooch.retrieve(url, known_hash=known_hash, fname=target.name, path=target.parent,
                       downloader=downloader, progressbar=progress)
    except ValueError as exc:
        if downloader.found_hash is None:  # not a hash check: pooch rejected the request itself
            raise DataError(f"{name}: cannot download {url}: {exc}; {manual}") from None
        raise DataError(
            f"{name}: downloaded file is corrupted: expected {known_hash} but got "
            f"{alg}:{downloader.found_hash} (download discarded); retry, or {manual}") from None
    except requests.exceptions.RequestException as exc:
        reason = type(exc).__name__
        status = getattr(exc.response, "status_code", None)
        if status is not None:
            reason += f" (HTTP {status})"
        raise DataError(f"{name}: cannot download {url}: {reason} — offline or the source "
                        f"moved? {manual[0].upper()}{manual[1:]}") from None
    except OSError as exc:
        raise DataError(f"{name}: cannot write {target}: {exc.strerror or exc}") from None
    if md5 is None:
        logger.warning("%s: no md5 in the dataset card, download not verified; its md5 is %s "
                       "(add `md5 = \"%s\"` to the card to pin it)",
                       name, downloader.found_hash, downloader.found_hash)
    return target


def verify_raw_file(name: str, path: Path, md5: str, verdicts: Path) -> None:
    """Raise DataError unless the file's MD5 is `md5`. `verdicts` (a JSON file) remembers the
    verdict per content identity, so an unchanged file is MD5-checked once; an unreadable
    verdicts file is ignored (the MD5 is computed again)."""
    identity = content_identity(path)
    key = f"{identity['size']}:{identity[HASH_NAME]}"
    known = _load_verdicts(verdicts)
    verdict = known.get(key)
    secret = _verdict_key(Path(verdicts).with_name(".verdict-key"))
    if not (secret and isinstance(verdict, dict) and verdict.get("expected") == md5.lower()
            and _verdict_mac(secret, key, verdict) == verdict.get("mac")):
        found = _md5(path)
        verdict = {"expected": md5.lower(), "found": found}
        verdict["mac"] = _verdict_mac(secret, key, verdict)
        known[key] = verdict
        _save_verdicts(verdicts, known)
        logger.info("%s: md5 of %s %s", name, path,
                    "ok" if found == md5.lower() else f"is {found}, expected {md5}")
    if verdict.get("found") != md5.lower():
        raise DataError(f"{path}: md5 is {verdict.get('found')}, the {name} card expects {md5}: "
                        f"a corrupt or different file; run `python -m benchmark download {name}` "
                        "to fetch it again, or pass --no-verify to use it anyway")


def _verdict_key(path: Path) -> bytes:
    """The random key the verdicts are bound with (created on first use; b"" if it cannot be
    read or written, which makes every remembered verdict fail: the MD5 is then recomputed)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    except OSError:
        return b""
    secret = os.urandom(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secret)
    except FileExistsError:
        return path.read_bytes()
    except OSError:
        return b""
    return secret


def _verdict_mac(secret: bytes, key: str, verdict: dict) -> str | None:
    if not secret:
        return None
    message = f"{key}:{verdict.get('expected')}:{verdict.get('found')}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    buffer = bytearray(HASH_BLOCK)
    view = memoryview(buffer)
    try:
        with open(path, "rb") as handle:
            while got := handle.readinto(buffer):
                digest.update(view[:got])
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return digest.hexdigest()


def _load_verdicts(path: Path) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        logger.warning("%s unreadable (%s); checking the md5 again", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def _save_verdicts(path: Path, verdicts: dict) -> None:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(verdicts, handle, indent=1)
        os.replace(tmp, path)
    except OSError as exc:  # the verdict is only a shortcut: losing it costs one more MD5
        logger.warning("cannot record the md5 verdict in %s: %s", path, exc.strerror or exc)


class _HashingDownloader:
    """Wraps a pooch downloader and records the hash (`alg`) of what it fetched (for error
    messages)."""

    def __init__(self, inner, alg: str = "md5") -> None:
        self.inner = inner
        self.alg = alg
        self.found_hash: str | None = None

    def __call__(self, url: str, output_file: str, pooch_instance) -> None:
        import pooch

        self.inner(url, output_file, pooch_instance)
        self.found_hash = pooch.file_hash(output_file, alg=self.alg)


def download_datasets(names: list[str], data_dir: Path | None, progress: bool = True) -> int:
    """Fetch each named dataset's source; 0 if all succeeded, 2 if any failed (all are tried).

    Prints one line per dataset (its file, or `error: …` on stderr).
    """
    from benchmark.data.cards import load_card
    from benchmark.data.pipeline import resolve_data_dir
    from benchmark.data.samples import SAMPLE_SETS, fetch_samples

    data_dir = resolve_data_dir(data_dir)
    status = 0
    for name in names:
        try:
            if name in SAMPLE_SETS:
                paths = fetch_samples(name, data_dir, progress=progress)
                print(f"{name}: {len(paths)} files in {paths[0].parent}")
                continue
            card = load_card(name)
            source = card.source
            if source.url is None:
                print(f"{name}: generated locally, no download needed")
                continue
            filename = source.filename or Path(urlparse(source.url).path).name
            path = fetch_source(name, source.url, source.md5, filename, data_dir,
                                progress=progress)
        except DataError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 2
            continue
        print(f"{name}: {path}")
    return status
