"""`llm`: few-shot labelling through an OpenAI-compatible chat-completions endpoint.

The endpoint is the `url` option or the environment variable LOGMILP_LLM_URL, the base URL of the
API (e.g. `http://127.0.0.1:8000/v1`; `/chat/completions` is appended unless already there). A local
model is used the same way: serve it with any OpenAI-compatible server (llama.cpp `llama-server`,
vLLM, Ollama's `/v1`) and point the URL at it. Model name: `model` or LOGMILP_LLM_MODEL; an
optional bearer token: `api_key` or LOGMILP_LLM_API_KEY. One request per text, temperature 0.

The reply must start with a JSON object {"label": "anomalous"|"normal", "confidence": 0..1} or
with the word `anomalous` / `normal`; anything else is a LabellingError quoting the reply.

Reliability: each request has an overall `deadline` (seconds, default `timeout`): a server that
drips its answer a byte at a time is cut off when it expires (the socket is shut down from a
timer), not just when one read stalls for `timeout`. A 5xx answer, a reset or dropped connection
and an expired deadline are retried up to `retries` times (default 3) with exponential back-off
(`backoff`, 1 s, doubled each time); a 4xx, a refused connection or an unparsable reply is not.
With `answers=PATH` every answer is appended to that JSONL file (the `replay` format) as it
arrives and texts already answered there are not asked again, so a rerun after a failure resumes
where it stopped.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import socket
import threading
import time
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmark.labelling.base import Labeller, LabellingError, register_labeller
from benchmark.labelling.replay import load_replay, text_key, write_replay

log = logging.getLogger(__name__)

URL_ENV, MODEL_ENV, KEY_ENV = "LOGMILP_LLM_URL", "LOGMILP_LLM_MODEL", "LOGMILP_LLM_API_KEY"

SYSTEM_PROMPT = (
    "You are an expert site-reliability engineer labelling system log messages for anomaly "
    "detection. A message is anomalous when it reports a failure, a fault, data loss, a crash or "
    "a condition needing operator action; routine status, progress and corrected/recovered "
    "conditions are normal. Parameters may be masked as <NUM>, <HEX>, <PATH>, <*>. Reply with "
    'one JSON object only: {"label": "anomalous" or "normal", "confidence": a number from 0 '
    "to 1}."
)

DEFAULT_EXAMPLES: tuple[tuple[str, int], ...] = (
    ("instruction cache parity error corrected", 0),
    ("ciod: LOGIN chdir(<PATH>) succeeded", 0),
    ("data TLB error interrupt", 1),
    ("BlueGene job <NUM> started on partition <*>", 0),
    ("rts: kernel terminated for reason <NUM>", 1),
    ("Lustre mount FAILED : bglio<NUM> : block_id : location", 1),
)
"""Few-shot (text, label) pairs shown before every query; BGL-style, editable per run."""

_WORD = re.compile(r"^\W*(anomalous|abnormal|anomaly|normal)\b", re.IGNORECASE)


@register_labeller("llm")
class LLMLabeller(Labeller):
    """Chat-completions labeller; see the module docstring for endpoint and reply format."""

    def __init__(self, url: str | None = None, model: str | None = None,
                 api_key: str | None = None, examples: Sequence[tuple[str, int]] | None = None,
                 system_prompt: str = SYSTEM_PROMPT, timeout: float = 60.0,
                 deadline: float | None = None, retries: int = 3, backoff: float = 1.0,
                 answers: str | Path | None = None) -> None:
        super().__init__()
        self.tokens = {"sent": 0, "received": 0}
        url = url or os.environ.get(URL_ENV)
        if not url:
            raise LabellingError(f"llm labeller: no endpoint; pass url= or set {URL_ENV}")
        url = url.rstrip("/")
        self.url = url if url.endswith("/chat/completions") else url + "/chat/completions"
        self.model = model or os.environ.get(MODEL_ENV, "default")
        self._api_key = api_key or os.environ.get(KEY_ENV)
        self.examples = tuple(examples if examples is not None else DEFAULT_EXAMPLES)
        self.system_prompt = system_prompt
        self.timeout = float(timeout)
        self.deadline = float(deadline) if deadline is not None else self.timeout
        if self.timeout <= 0 or self.deadline <= 0 or int(retries) < 0 or float(backoff) < 0:
            raise LabellingError("llm labeller: timeout and deadline must be > 0, retries and "
                                 "backoff ≥ 0")
        self.retries, self.backoff = int(retries), float(backoff)
        self.answers_path = Path(answers) if answers is not None else None
        self._answers: dict[str, tuple[int, float]] = (
            load_replay(self.answers_path) if self.answers_path is not None
            and self.answers_path.exists() else {})

    def messages(self, text: str) -> list[dict[str, str]]:
        """The chat messages sent for one text: system prompt, few-shot pairs, the query."""
        out = [{"role": "system", "content": self.system_prompt}]
        for example, label in self.examples:
            out.append({"role": "user", "content": f"Log message: {example}"})
            out.append({"role": "assistant", "content": json.dumps(
                {"label": "anomalous" if label else "normal", "confidence": 0.9})})
        out.append({"role": "user", "content": f"Log message: {text}"})
        return out

    def _label(self, texts: list[str], ids: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        answers = []
        for text in texts:
            key = text_key(text)
            if key not in self._answers:
                self._answers[key] = parse_reply(self._complete(text), text)
                if self.answers_path is not None:  # kept at once: a later failure loses none
                    label, conf = self._answers[key]
                    write_replay(self.answers_path, [text], [label], [conf])
            answers.append(self._answers[key])
        return np.array([a[0] for a in answers]), np.array([a[1] for a in answers])

    def _complete(self, text: str) -> str:
        body = json.dumps({"model": self.model, "messages": self.messages(text),
                           "temperature": 0}).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        for attempt in range(self.retries + 1):
            try:
                status, raw = self._post(body, headers)
            except _Transient as err:
                problem = str(err)
            else:
                if status < 300:
                    break
                problem = f"HTTP {status}: {raw[:200].decode('utf-8', 'replace')}"
                if status < 500:
                    raise LabellingError(f"llm labeller: request to {self.url} failed: "
                                         f"{problem}")
            if attempt == self.retries:
                raise LabellingError(f"llm labeller: request to {self.url} failed after "
                                     f"{self.retries + 1} attempt(s): {problem}")
            wait = self.backoff * 2 ** attempt
            log.warning("llm labeller: %s (%s); retry %d of %d in %.1f s", self.url, problem,
                        attempt + 1, self.retries, wait)
            time.sleep(wait)
        try:
            payload = json.loads(raw.decode("utf-8"))
        except ValueError as err:
            raise LabellingError(f"llm labeller: {self.url} answered no JSON: {err}") from err
        self._count_tokens(payload)
        try:
            return str(payload["choices"][0]["message"]["content"])
        except (KeyError, IndexError, TypeError) as err:
            raise LabellingError(f"llm labeller: {self.url} answered without "
                                 f"choices[0].message.content: {str(payload)[:200]}") from err


    def _count_tokens(self, payload: object) -> None:
        """Add the reply's `usage` (prompt / completion tokens, as the server counts them)."""
        usage = payload.get("usage") if isinstance(payload, dict) else None
        if not isinstance(usage, dict):
            return
        for key, field in (("sent", "prompt_tokens"), ("received", "completion_tokens")):
            value = usage.get(field)
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                self.tokens[key] += value

    def _post(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """(status, body) of one POST, all of it within `deadline` seconds; _Transient for what
        a retry may cure (reset, dropped connection, expired deadline); LabellingError for a
        refused or unresolvable endpoint."""
        parts = urllib.parse.urlsplit(self.url)
        cls = (http.client.HTTPSConnection if parts.scheme == "https"
               else http.client.HTTPConnection)
        conn = cls(parts.hostname, parts.port, timeout=min(self.timeout, self.deadline))
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        expired = threading.Event()
        try:
            conn.connect()
        except (ConnectionRefusedError, socket.gaierror) as err:
            raise LabellingError(f"llm labeller: request to {self.url} failed: {err}") from err
        except OSError as err:
            raise _Transient(f"cannot connect: {err}") from err
        sock = conn.sock  # kept: http.client drops conn.sock once the response owns it

        def expire() -> None:
            expired.set()
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        timer = threading.Timer(self.deadline, expire)
        timer.daemon = True
        timer.start()
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            raw = response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as err:
            if expired.is_set():
                raise _Transient(f"no complete answer within the {self.deadline:g} s "
                                 "deadline") from None
            raise _Transient(f"{type(err).__name__}: {err}") from err
        finally:
            timer.cancel()
            conn.close()
        if expired.is_set():
            raise _Transient(f"no complete answer within the {self.deadline:g} s deadline")
        return status, raw


class _Transient(Exception):
    """A failed attempt that a retry may cure."""


def parse_reply(reply: str, text: str = "") -> tuple[int, float]:
    """(label, confidence) from one model reply; LabellingError when it cannot be read."""
    stripped = reply.strip()
    start = stripped.find("{")
    if start >= 0:
        try:
            obj, _ = json.JSONDecoder().raw_decode(stripped[start:])
        except ValueError:
            obj = None
        if isinstance(obj, dict) and isinstance(obj.get("label"), str | int):
            label = _label_word(str(obj["label"]))
            if label is not None:
                try:
                    conf = float(obj.get("confidence", 1.0))
                except (TypeError, ValueError):
                    conf = -1.0
                if 0.0 <= conf <= 1.0:
                    return label, conf
    match = _WORD.match(stripped)
    if match:
        return int(match.group(1).lower() != "normal"), 1.0
    raise LabellingError(f"llm labeller: unparsable reply {reply[:200]!r} for {text[:80]!r}")


def _label_word(word: str) -> int | None:
    word = word.strip().lower()
    if word in ("anomalous", "abnormal", "anomaly", "1"):
        return 1
    if word in ("normal", "0"):
        return 0
    return None
