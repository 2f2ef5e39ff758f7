"""The `localize` result (benchmark.localize) as a self-contained HTML page or Markdown.

HTML: one `<section class="window" id="window-N">` per flagged window (highest probability
first): its time span, probability and top-k lines, then every line of the window in log order,
the top-k highlighted (`<tr class="suspect">`) with their rank and instance score. Inline CSS, no
script, no external resource; every log text is HTML-escaped.
"""

from __future__ import annotations

from html import escape
from typing import Any

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; background: #fff; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; }
table { border-collapse: collapse; width: 100%; font-size: 0.85em; }
td, th { border-bottom: 1px solid #ddd; padding: 2px 6px; text-align: left; vertical-align: top; }
td.text { font-family: ui-monospace, monospace; white-space: pre-wrap; word-break: break-all; }
td.num { text-align: right; white-space: nowrap; }
tr.suspect { background: #ffd6d6; font-weight: bold; }
.summary { background: #f4f4f4; padding: 0.8em 1.2em; border-radius: 6px; }
.window { border-left: 5px solid #c0392b; padding-left: 1em; margin-bottom: 2em; }
.none { color: #555; }
"""


def to_html(result: dict[str, Any]) -> str:
    """The whole page (UTF-8 text)."""
    r = result
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>Suspicious windows in {escape(r['log_file'])}</title>",
             f"<style>{_CSS}</style></head><body>",
             f"<h1>Suspicious windows in <code>{escape(r['log_file'])}</code></h1>",
             '<div class="summary"><p>'
             f"Model <b>{escape(r['model'])}</b> trained on <b>{escape(r['trained_on'])}</b> "
             f"(seed {r['seed']}), threshold τ = {r['threshold']:.4f} (chosen on validation). "
             f"{r['lines']:,} lines ({r['format']} format, {r['unparsed_lines']:,} unparsed) in "
             f"{r['bags']:,} windows; <b id=\"flagged-count\">{r['flagged']}</b> flagged "
             f"(p ≥ τ), highest probability first; top {r['top']} lines per window by "
             "instance score.</p>", _unknown_html(r), "</div>"]
    if not r["windows"]:
        parts.append('<p class="none">No window reaches the threshold.</p>')
    for w in r["windows"]:
        suspects = {t["line"]: i for i, t in enumerate(w["top"], start=1)}
        parts.append(f'<section class="window" id="window-{w["rank"]}">')
        parts.append(f"<h2>Window {w['rank']}: p = {w['probability']:.4f}, lines "
                     f"{w['first_line']}–{w['last_line']}, {escape(w['start_time'])} – "
                     f"{escape(w['end_time'])}</h2>")
        parts.append("<table><tr><th>rank</th><th>line</th><th>score</th><th>text</th></tr>")
        for line in w["context"]:
            rank = suspects.get(line["line"])
            attrs = ' class="suspect"' if rank else ""
            parts.append(f"<tr{attrs}><td class=\"num\">{rank or ''}</td>"
                         f"<td class=\"num\">{line['line']}</td>"
                         f"<td class=\"num\">{line['score']:.4g}</td>"
                         f"<td class=\"text\">{escape(line['text'])}</td></tr>")
        parts.append("</table></section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def to_markdown(result: dict[str, Any]) -> str:
    """One heading per flagged window with a table of its top-k lines."""
    r = result
    out = [f"# Suspicious windows in `{_md_cell(r['log_file'])}`", "",
           f"Model **{r['model']}** trained on **{r['trained_on']}** (seed {r['seed']}), "
           f"threshold τ = {r['threshold']:.4f}. {r['lines']:,} lines in {r['bags']:,} windows; "
           f"**{r['flagged']}** flagged (p ≥ τ), highest probability first.", ""]
    if r["unknown"]["lines"]:
        out += [f"{r['unknown']['lines']:,} lines ({r['unknown']['distinct_contents']} distinct "
                "masked contents) match no trained template; scored as the model's unknown "
                "template.", ""]
    for w in r["windows"]:
        out += [f"## Window {w['rank']}: p = {w['probability']:.4f}, lines "
                f"{w['first_line']}–{w['last_line']}, {w['start_time']} – {w['end_time']}", "",
                "| rank | line | score | text |", "|---|---|---|---|"]
        out += [f"| {i} | {t['line']} | {t['score']:.4g} | `{_md_cell(t['text'])}` |"
                for i, t in enumerate(w["top"], start=1)]
        out.append("")
    return "\n".join(out) + "\n"


def _unknown_html(r: dict[str, Any]) -> str:
    u = r["unknown"]
    if not u["lines"]:
        return "<p>Every line matched a template of the trained dataset.</p>"
    examples = "".join(f"<li><code>{escape(e)}</code></li>" for e in u["examples"])
    return (f"<p>{u['lines']:,} lines ({u['distinct_contents']} distinct masked contents) match "
            "no trained template; they are scored as the model's unknown template. "
            f"Examples:</p><ul>{examples}</ul>")


def _md_cell(text: str) -> str:
    """Text safe inside a one-line Markdown code span (no backtick to close it early, no
    newline, no table pipe): HTML in it then shows as text, never as markup."""
    return (text.replace("`", "'").replace("|", "\\|").replace("\r", " ")
            .replace("\n", " "))
