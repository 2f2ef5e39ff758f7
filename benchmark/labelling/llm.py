"""`llm`: few-shot labelling through an OpenAI-compatible chat-completions endpoint.

The endpoint is the `url` option or the environment variable LOGMILP_LLM_URL, the base URL of the
API (e.g. `http://127.0.0.1:8000/v1`; `/chat/completions` is appended unless already there). A local
model is used the same way: serve it with any OpenAI-compatible server (llama.cpp `llama-server`,
vLLM, Ollama's `/v1`) and point the URL at it. Model name: `model` or LOGMILP_LLM_MODEL; an
optional bearer token: `api_key` or LOGMILP_LLM_API_KEY. One request per text, temperature 0.

The reply must start with a JSON object {"label": "anomalous"|"normal", "confidence": 0..1} or
with the word `anomalous` / `normal`; anything else is a LabellingError quoting the reply.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Sequence

import numpy as np

from benchmark.labelling.base import Labeller, LabellingError, register_labeller

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
                 system_prompt: str = SYSTEM_PROMPT, timeout: float = 60.0) -> None:
        super().__init__()
        url = url or os.environ.get(URL_ENV)
        if not url:
            raise LabellingError(f"llm labeller: no endpoint; pass url= or set {URL_ENV}")
        url = url.rstrip("/")
        self.url = url if url.endswith("/chat/completions") else url + "/chat/completions"
        self.model = model or os.environ.get(MODEL_ENV, "default")
        self._api_key = api_key or os.environ.get(KEY_ENV)
        self.examples = tuple(examples if examples is not None else DEFAULT_EXAMPLES)
        self.system_prompt = system_prompt
        self.timeout = timeout

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
        answers = [parse_reply(self._complete(t), t) for t in texts]
        return np.array([a[0] for a in answers]), np.array([a[1] for a in answers])

    def _complete(self, text: str) -> str:
        body = json.dumps({"model": self.model, "messages": self.messages(text),
                           "temperature": 0}).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = json.loads(response.read().decode("utf-8"))
        except (urllib.error.URLError, TimeoutError, ValueError) as err:
            raise LabellingError(f"llm labeller: request to {self.url} failed: {err}") from err
        try:
            return str(payload["choices"][0]["message"]["content"])
        except (KeyError, IndexError, TypeError) as err:
            raise LabellingError(f"llm labeller: {self.url} answered without "
                                 f"choices[0].message.content: {str(payload)[:200]}") from err


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
