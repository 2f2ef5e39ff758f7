"""Self-verifying files: a one-line header naming the kind, the sha256 hex of the payload, the
payload bytes. Format-agnostic: the payload is whatever the writer serialised (a `torch.save`, a
scikit-learn dump, …); `unseal` hands back the exact bytes only when their digest matches, so a
flipped bit, a truncation or a hand edit (of τ, of a weight) is refused before anything is
deserialised. Used by checkpoints (benchmark.checkpoint) and saved models (benchmark.artifacts).
"""

from __future__ import annotations

import hashlib

_DIGEST_BYTES = 64  # sha256 hex


class SealError(ValueError):
    """The bytes are not a sealed file of the expected kind, or their digest does not match."""


def seal(magic: bytes, payload: bytes) -> bytes:
    """`magic` (one line, ending in a newline) + sha256 hex of `payload` + newline + `payload`."""
    if not magic.endswith(b"\n") or b"\n" in magic[:-1]:
        raise ValueError("magic must be one line ending in a newline")
    return magic + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload


def unseal(magic: bytes, raw: bytes) -> bytes:
    """The payload of a sealed file, or SealError with the reason (bad header, digest)."""
    header = len(magic) + _DIGEST_BYTES + 1
    if len(raw) < header or not raw.startswith(magic) or raw[header - 1:header] != b"\n":
        raise SealError(f"not a {magic.decode(errors='replace').strip()!r} file (bad header)")
    digest, payload = raw[len(magic):header - 1].decode("ascii", "replace"), raw[header:]
    if hashlib.sha256(payload).hexdigest() != digest:
        raise SealError("sha256 mismatch (truncated, corrupt or edited)")
    return payload

