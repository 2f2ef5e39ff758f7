"""Tiny BGL-format logs for the data-pipeline tests (written to tmp_path, never committed)."""

from __future__ import annotations

import time
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


BURST_NORMAL = ("instruction cache parity error corrected", "generating core.{n}",
                "CE sym {s}, at 0x{h:08x}, mask 0x{m:02x}",
                "{n} double-hummer alignment exceptions",
                "ciod: LOGIN chdir(/p/gb1/stella/RAPTOR/{n}) succeeded",
                "total of {s} ddr error(s) detected and corrected")
BURST_NORMAL_WEIGHTS = (5, 1, 2, 1, 1, 1)
BURST_ANOMALOUS = (
    ("KERNDTLB", "KERNEL", "data TLB error interrupt"),
    ("APPSEV", "APP", "ciod: Error reading message prefix after LOAD_MESSAGE on CioStream "
                      "socket to 172.16.96.116:{n}: Link has been severed"),
    ("KERNTERM", "KERNEL", "rts: kernel terminated for reason 1004rts: bad message header: "
                           "invalid cpu, type={n}, cpu={s}, index={n}, total={s}"),
    ("KERNMC", "KERNEL", "machine check interrupt"),
)


def write_bursty_bgl_log(path: Path, minutes: int = 500, seed: int = 0) -> Path:
    """A BGL-format log with the traits of real BGL that the 2k sample lacks.

    Few templates (6 normal, 4 anomalous); a sparse background (Poisson 1.5 lines/min); long
    bursts of one line repeated 150–600 times within seconds, so 60 s windows are cut into
    128-line bags filled by one template. The first 60 % of the minutes (≈ train) and the next
    20 % (≈ validation) hold anomalies as such long bursts (8 % / 15 % of minutes) and rare normal
    bursts (1 % / 2 %); the last 20 % (≈ test) hold many normal bursts (30 % of minutes) and
    short anomaly bursts (5–60 lines, 12 %): a positive-rate shift between validation and test,
    and test bags whose length says the opposite of what it said in training.
    """
    rng = np.random.default_rng(seed)
    weights = np.asarray(BURST_NORMAL_WEIGHTS, dtype=float) / sum(BURST_NORMAL_WEIGHTS)
    p_normal_burst, p_anomaly = (0.01, 0.02, 0.3), (0.08, 0.15, 0.12)
    anomaly_length = ((150, 600), (150, 600), (5, 60))
    t0, out = 1117838570, []

    def fill(text: str) -> str:
        return text.format(n=int(rng.integers(0, 40000)), s=int(rng.integers(0, 32)),
                           h=int(rng.integers(0, 2**32)), m=int(rng.integers(0, 256)))

    for minute in range(minutes):
        part = 0 if minute < 0.6 * minutes else (1 if minute < 0.8 * minutes else 2)
        events = [(rng.uniform(0, 60), "-", "KERNEL",
                   fill(BURST_NORMAL[rng.choice(len(BURST_NORMAL), p=weights)]))
                  for _ in range(rng.poisson(1.5))]
        if rng.random() < p_normal_burst[part]:
            text, start = BURST_NORMAL[int(rng.integers(0, 3))], rng.uniform(0, 20)
            events += [(start + k * 0.05, "-", "KERNEL", fill(text))
                       for k in range(int(rng.integers(150, 600)))]
        if rng.random() < p_anomaly[part]:
            label, component, text = BURST_ANOMALOUS[int(rng.integers(len(BURST_ANOMALOUS)))]
            start = rng.uniform(0, 20)
            events += [(start + k * 0.05, label, component, fill(text))
                       for k in range(int(rng.integers(*anomaly_length[part])))]
        for offset, label, component, text in sorted(events, key=lambda e: e[0]):
            ts = t0 + minute * 60 + offset
            node = (f"R{rng.integers(0, 8):02d}-M{rng.integers(0, 2)}-N{rng.integers(0, 16)}"
                    "-C:J12-U11")
            level = "INFO" if label == "-" else "FATAL"
            stamp = time.strftime("%Y-%m-%d-%H.%M.%S", time.gmtime(ts))
            out.append(f"{label} {int(ts)} {time.strftime('%Y.%m.%d', time.gmtime(ts))} {node} "
                       f"{stamp}.{int((ts % 1) * 1e6):06d} {node} RAS {component} {level} {text}\n")
    path.write_text("".join(out), encoding="utf-8")
    return path
