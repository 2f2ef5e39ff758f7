"""Template text → word tokens, shared by the embedder and the token-level models."""

from __future__ import annotations

import re

_PLACEHOLDER = re.compile(r"<\*>|<[A-Z][A-Z0-9_]*>")
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


def tokenize_template(text: str) -> list[str]:
    """Lower-case word tokens of a template: drop `<*>` and mask placeholders (`<NUM>`, `<IP>`,
    ...), split on non-alphanumerics and camelCase (`QuorumCnxManager` → quorum, cnx, manager;
    `HTTPServer` → http, server), keep digit runs as their own tokens."""
    return [w.lower() for w in _WORD.findall(_PLACEHOLDER.sub(" ", text))]
