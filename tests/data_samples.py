"""Tiny BGL-format logs for the data-pipeline tests (written to tmp_path, never committed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

NORMAL = ("instruction cache parity error corrected", "generating core.{n}",
          "{n} double-hummer alignment exceptions", "CE sym {s}, at 0x{h:08x}, mask 0x{h:08x}",
          "ciod: LOGIN chdir(/p/gb{s}/user{n}) succeeded")
ANOMALOUS = ("data TLB error interrupt", "ciod: failed to read message prefix on control stream "
             "(CioStream socket to 172.16.{s}.{s}:{n}")


def write_bgl_log(path: Path, n_lines: int = 600, seed: int = 0) -> Path:
    """`n_lines` BGL lines, ~2 lines per 10 s over the templates above; ~5 % anomalous."""
    rng = np.random.default_rng(seed)
    t = 1117838570 + np.cumsum(rng.integers(1, 10, n_lines))
    node = "R02-M1-N0-C:J12-U11"
    out = []
    for i in range(n_lines):
        bad = rng.random() < 0.05
        text = (ANOMALOUS if bad else NORMAL)[rng.integers(0, 2 if bad else len(NORMAL))]
        text = text.format(n=rng.integers(0, 5000), s=rng.integers(0, 32),
                           h=rng.integers(0, 2**32))
        label, level = ("KERNDTLB", "FATAL") if bad else ("-", "INFO")
        out.append(f"{label} {t[i]} 2005.06.03 {node} 2005-06-03-15.42.50.675872 {node} RAS "
                   f"KERNEL {level} {text}\n")
    path.write_text("".join(out), encoding="utf-8")
    return path
