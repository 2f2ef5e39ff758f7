"""`--report-only` in a fresh process, checked to stay light (shared by the packaging, artifact
and cross-domain tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_report_only_light(results_dir: Path, *extra: str) -> None:
    """`--report-only` in a fresh process: exit 0, and neither torch, gensim nor drain3 imported."""
    code = ("import sys; from benchmark.cli import run_all_main; "
            f"rc = run_all_main(['--report-only', '--results-dir', {str(results_dir)!r}, "
            f"{', '.join(repr(a) for a in extra)}]); assert rc == 0, rc; "
            "heavy = [m for m in ('torch', 'gensim', 'drain3') if m in sys.modules]; "
            "assert not heavy, heavy")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.returncode == 0, out.stderr[-2000:]
