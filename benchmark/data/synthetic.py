"""Synthetic BGL-format log with planted anomaly episodes and distractors (the embedded default).

`write_synthetic_log(path, n_lines, seed)` writes a real log file, one event per line, in Loghub's
BGL format

  <label> <epoch> <YYYY.MM.DD> <node> <YYYY-MM-DD-HH.MM.SS.ffffff> <node> RAS <COMP> <LEVEL> <text>

where label `-` marks a normal line and any other token (`KERNDTLB`, `APPREAD`, `KERNFLOOD`, ...) an
anomalous one, so it goes through the same reader, parser, embedder and bagger as BGL itself. Same
arguments → byte-identical file. Ground truth is clean: no label noise.

Design (defaults in `SyntheticSpec`; numbers measured at seed 0 are in the module's tests/report):

* **Normal traffic.** `len(NORMAL_TEMPLATES)` (80) templates drawn with Zipf frequencies
  (exponent `zipf_exponent`: the head template is ~25 % of the traffic; the last
  `rare_tail_templates` are 50× rarer still, ~10 lines each in 200 k and often none in a training
  split — some with ERROR/SEVERE levels — so a never-seen template is *not* proof of an anomaly).
  Parameters are random per line (integers, hex addresses, IPs, ports, node names, `core.N`,
  paths), so a parser has to generalise them. Lines arrive at a per-minute rate that follows a
  log-normal AR(1) process around `lines_per_minute` with a daily cycle: 60 s windows hold roughly
  10–100 lines (200 k lines ≈ 5 000 windows; 20 k lines ≈ 500). A few normal lines repeat
  2–4 times within seconds (`repeat_prob`), so short repetitions are normal.
* **Anomaly episodes.** Start at random times, `episodes_per_minute` on average, so that about
  13–15 % of 60 s windows hold one. Each episode happens on one node and is one of
  - *rare* (`episode_mix[0]`): 1–5 lines of one or two rare anomalous templates
    (`ANOMALOUS_TEMPLATES`, Zipf-weighted among themselves) spread over ≤ 15 s;
  - *burst* (`episode_mix[1]`): one mid-frequency normal template repeated 10–40 times within
    2–10 s; those burst lines are labelled anomalous (`<COMP>FLOOD`), while the same template at its
    normal rate elsewhere stays `-`, so only context (counts) separates them;
  - *both* (`episode_mix[2]`).
  Several anomalous templates are textual twins of normal ones (they share most tokens, e.g.
  "instruction cache parity error corrected" / "... could not be corrected"); twins always differ
  in token count so that Drain (which groups by length first) keeps them apart.
* **Distractors.** Benign, high-frequency retry / link re-training lines (`DISTRACTOR_TEMPLATES`,
  label `-`): a cluster of 3–10 lines lands within ±20 s of `distractor_near_episode` (85 %) of the
  episodes, and clusters also occur on their own (`distractor_clusters_per_minute`) in ~8 % of
  normal windows. Distractors therefore correlate strongly with anomalous windows without causing
  them, and usually outnumber the episode's own anomalous lines: attention that follows
  co-occurrence instead of cause loses Loc@k.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

NORMAL_LABEL = "-"
PLACEHOLDER = re.compile(r"\{(\w+)\}")


class Template(NamedTuple):
    """One event type: BGL component and level, content with `{kind}` parameter slots, label."""

    component: str
    level: str
    text: str
    label: str = NORMAL_LABEL


_t = Template  # short alias for the tables below


# Ordered by frequency rank (rank 1 first). Some normal lines carry ERROR/FATAL levels, as in BGL.
NORMAL_TEMPLATES: tuple[Template, ...] = (
    _t("KERNEL", "INFO", "instruction cache parity error corrected"),
    _t("KERNEL", "INFO", "generating {core}"),
    _t("KERNEL", "INFO", "{int} double-hummer alignment exceptions"),
    _t("KERNEL", "INFO", "CE sym {small}, at {hex}, mask {hex}"),
    _t("KERNEL", "INFO", "{int} ddr error(s) detected and corrected on rank {small}, "
                         "symbol {small} over {int} seconds"),
    _t("APP", "INFO", "ciod: LOGIN chdir({path}) succeeded"),
    _t("KERNEL", "INFO",
       "{int} torus receiver z+ input pipe error(s) (dcr {hex}) detected and corrected"),
    _t("KERNEL", "INFO", "{int} floating point alignment exceptions"),
    _t("KERNEL", "INFO", "data cache search parity error detected. attempting to correct"),
    _t("KERNEL", "INFO",
       "{int} L3 EDRAM error(s) (dcr {hex}) detected and corrected over {int} seconds"),
    _t("MMCS", "INFO", "BlueGene job {job} started on partition R{small}"),
    _t("KERNEL", "INFO", "total of {int} ddr error(s) detected and corrected"),
    _t("KERNEL", "INFO",
       "{int} tree receiver {small} in re-synch state event(s) (dcr {hex}) detected"),
    _t("APP", "FATAL", "ciod: duplicate canonical-rank {int} to logical-rank {int} mapping at line "
                       "{int} of node map file {path}"),
    _t("MMCS", "INFO", "BlueGene job {job} completed on partition R{small} with exit code {small}"),
    _t("KERNEL", "INFO", "iar {hex} dear {hex}"),
    _t("KERNEL", "INFO", "{int} microseconds spent in the rbs signal handler during {int} calls"),
    _t("KERNEL", "INFO", "{int} total interrupts. {int} critical input interrupts."),
    _t("APP", "INFO", "ciod: Message code {int} is not {small} or {small}"),
    _t("KERNEL", "INFO",
       "Kernel detected {int} integer alignment exceptions ({int}) iar {hex}, dear {hex}"),
    _t("HARDWARE", "INFO", "NodeCard temperature sensor chip U{small} reading {int} C"),
    _t("MONITOR", "INFO", "fan module {small} speed {int} rpm within limits"),
    _t("APP", "INFO", "ciod: Received signal {small}, code={small}, errno={small}, address={hex}"),
    _t("KERNEL", "INFO",
       "ddr: activating redundant bit steering for next allocation: rank={small} symbol={small}"),
    _t("KERNEL", "INFO", "{int} correctable errors exceeds threshold (iar {hex} lr {hex})"),
    _t("KERNEL", "INFO",
       "critical input interrupt (unit={hex} bit={hex}): warning for torus z- wire"),
    _t("KERNEL", "INFO", "exception syndrome register: {hex}"),
    _t("KERNEL", "INFO", "machine state register: {hex}"),
    _t("KERNEL", "INFO", "link register: {hex}"),
    _t("KERNEL", "INFO", "instruction address: {hex}"),
    _t("DISCOVERY", "INFO", "Node card is fully functional"),
    _t("DISCOVERY", "WARNING", "Node card status: no ALERTs are active. Clock Mode is Low. "
                               "Clock Select is Midplane. Phy JTAG Reset is asserted."),
    _t("MMCS", "ERROR", "idoproxy communication failure: BGLERR_IDO_PKT_TIMEOUT connection lost to "
                        "node/link/service card"),
    _t("APP", "INFO", "ciod: Z coordinate {small} exceeds physical dimension {small} at line {int} "
                      "of node map file {path}"),
    _t("KERNEL", "INFO", "ciod: generated {int} core files for program {path}"),
    _t("LINKCARD", "INFO", "link card {node} power status: ok"),
    _t("KERNEL", "INFO", "data address: {hex}"),
    _t("KERNEL", "INFO", "count register: {hex}"),
    _t("KERNEL", "INFO", "floating point status and control register: {hex}"),
    _t("KERNEL", "INFO", "ddr: excessive soft failures reported on rank {small}, monitoring"),
    _t("APP", "INFO", "ciod: pollControlDescriptors: Detected the debugger died."),
    _t("KERNEL", "INFO", "Lustre mount succeeded : {node}"),
    _t("KERNEL", "INFO", "program interrupt: fp cr field {small}"),
    _t("KERNEL", "INFO", "invalid operation exception (software) {small}"),
    _t("KERNEL", "INFO", "data store interrupt caused by dcbf at {hex} handled"),
    _t("KERNEL", "INFO", "special purpose registers:"),
    _t("KERNEL", "INFO", "general purpose registers:"),
    _t("KERNEL", "INFO", "shutdown complete"),
    _t("KERNEL", "INFO", "Power deactivated: {node}"),
    _t("KERNEL", "INFO", "Power activated: {node}"),
    _t("MMCS", "INFO", "ciodb has been restarted."),
    _t("SERV_NET", "INFO", "Added {int} subnets and {int} addresses to DB"),
    _t("DISCOVERY", "INFO", "Ido chip status changed: {node} ip={ip} v={small} t={small} status=M"),
    _t("KERNEL", "INFO", "Node card VPD check: {node} node in processor card slot J{small} do not "
                         "match. VPD ecid {hex}, found {hex}"),
    _t("MMCS", "INFO", "idoproxydb has been started: Input parameters: -enableflush -loguserinfo "
                       "db.properties BlueGene1"),
    _t("BGLMASTER", "INFO", "BGLMaster has been started: ./BGLMaster --consoleip 127.0.0.1 "
                            "--consoleport {port} --configfile bglmaster.init"),
    _t("BGLMASTER", "INFO", "mmcs_server exited normally with exit code {small}"),
    _t("HARDWARE", "WARNING", "PrepareForService is being done on this part {node} by root"),
    _t("HARDWARE", "WARNING", "EndServiceAction is restarting the NodeCards in midplane "
                              "R{small}-M{small} as part of Service Action {int}"),
    _t("CMCS", "INFO", "CMCS started"),
    _t("CMCS", "INFO", "CMCS exiting"),
    _t("KERNEL", "INFO", "NFS mount of {path} completed in {int} ms"),
    _t("APP", "INFO", "ciod: cpu {small} at treeaddr {int} sent unrecognized message {hex}"),
    _t("KERNEL", "INFO", "minus normalized number ({small}) detected, fpscr {hex}"),
    _t("KERNEL", "INFO", "wait state enable {small}"),
    _t("KERNEL", "INFO", "auxiliary processor {small}"),
    _t("KERNEL", "INFO", "byte ordering exception {small}"),
    _t("KERNEL", "INFO", "guaranteed instruction cache block touch {small}"),
    _t("KERNEL", "INFO", "machine check enable {small}"),
    _t("KERNEL", "INFO", "problem state (0=sup,1=usr) {small}"),
    _t("MMCS", "INFO", "BlueGene partition R{small} booted with {int} compute nodes"),
    _t("MMCS", "WARNING", "BlueGene partition R{small} boot slow: {int} s"),
    _t("MONITOR", "INFO", "bulk power module {small} output voltage {int} mV nominal"),
    _t("APP", "INFO", "ciod: Login for user{small} accepted from {ip}"),
    _t("KERNEL", "INFO", "ciod: closed control stream socket to {ip}:{port}"),
    _t("DISCOVERY", "SEVERE", "Problem communicating with service card, ido chip: {hex}"),
    _t("DISCOVERY", "ERROR", "Node card {node} registered an unexpected VPD revision {small}"),
    _t("LINKCARD", "INFO", "Midplane switch {node} set to mode {small}"),
    _t("KERNEL", "INFO", "external input interrupt (unit={hex} bit={hex}) handled"),
    _t("HARDWARE", "INFO", "Node card {node} serial number {hex} recorded"),
)

# Benign lines that cluster around anomaly episodes (and sometimes elsewhere). Never anomalous.
DISTRACTOR_TEMPLATES: tuple[Template, ...] = (
    _t("APP", "INFO", "ciod: connection retry {small} to {ip}:{port}"),
    _t("KERNEL", "INFO", "torus link {small} re-training started on {node}"),
    _t("KERNEL", "INFO", "torus link {small} re-training complete after {int} ms"),
    _t("MMCS", "INFO", "idoproxy: heartbeat retry {small} for {node}"),
    _t("DISCOVERY", "WARNING", "node card {node} status poll retry {small}"),
)

# Rare anomalous templates, most common first. Twins of normal templates are marked "# twin".
ANOMALOUS_TEMPLATES: tuple[Template, ...] = (
    _t("KERNEL", "FATAL", "data TLB error interrupt", "KERNDTLB"),
    _t("KERNEL", "FATAL", "data storage interrupt at {hex}", "KERNSTOR"),
    _t("APP", "FATAL", "ciod: failed to read message prefix on control stream (CioStream socket to "
                       "{ip}:{port}", "APPREAD"),
    _t("KERNEL", "FATAL",  # twin
       "instruction cache parity error could not be corrected", "KERNICP"),
    _t("APP", "FATAL", "ciod: Error reading message prefix after LOAD_MESSAGE on CioStream socket "
                       "to {ip}:{port}: Link has been severed", "APPSEV"),
    _t("KERNEL", "FATAL", "Lustre mount FAILED : {node} : block_id : location", "KERNMNTF"),  # twin
    _t("KERNEL", "FATAL",  # twin
       "{int} torus receiver z+ input pipe error(s) (dcr {hex}) detected and NOT corrected, "
       "packet dropped", "KERNTOR"),
    _t("KERNEL", "FATAL", "rts: kernel terminated for reason {int}", "KERNTERM"),
    _t("KERNEL", "FATAL", "ddr: excessive soft failures, consider replacing the card", "KERNBIT"),
    _t("KERNEL", "FATAL", "Error receiving packet on tree network, expecting type {small} instead "
                          "of type {small}", "KERNREC"),
    _t("APP", "FATAL", "ciod: LOGIN chdir({path}) failed: No such file or directory", "APPCHDIR"),
    _t("KERNEL", "FATAL",  # twin
       "{int} ddr error(s) detected on rank {small}, symbol {small}, uncorrectable", "KERNDDR"),
    _t("MMCS", "ERROR", "idoproxy communication failure: socket closed", "MMCSCOMM"),
    _t("HARDWARE", "SEVERE",  # twin
       "NodeCard temperature sensor chip U{small} reading {int} C exceeds critical threshold, "
       "powering off", "HWTEMP"),
    _t("KERNEL", "FATAL", "rts panic! - stopping execution", "KERNRTSP"),
    _t("APP", "FATAL", "ciod: Error loading {path}: program image too big, {int} > {int}",
       "APPRES"),
    _t("KERNEL", "FATAL", "machine check interrupt (bit={hex}): L2 dcache unit data parity error",
       "KERNMC"),
    _t("KERNEL", "FATAL", "kernel panic", "KERNPAN"),
    _t("DISCOVERY", "SEVERE", "Node card VPD check: missing {node} node, VPD ecid {hex}",
       "DISCVPD"),
    _t("KERNEL", "FATAL", "core dump generated for {core} after unrecoverable signal {small}",
       "KERNCORE"),
)

ALL_TEMPLATES: tuple[Template, ...] = NORMAL_TEMPLATES + DISTRACTOR_TEMPLATES + ANOMALOUS_TEMPLATES
N_NORMAL, N_DISTRACTOR = len(NORMAL_TEMPLATES), len(DISTRACTOR_TEMPLATES)
FIRST_ANOMALOUS = N_NORMAL + N_DISTRACTOR
BURST_LABEL_SUFFIX = "FLOOD"


def burst_label(component: str) -> str:
    """Label of a normal template's lines inside an anomalous burst: `KERNEL` → `KERNFLOOD`."""
    return component[:4] + BURST_LABEL_SUFFIX


@dataclass(frozen=True)
class SyntheticSpec:
    """Generator settings; every rate is per minute of log time, every duration in seconds."""

    start_epoch: int = 1117838570  # 2005-06-03 22:42:50 UTC, the epoch of BGL's first line
    lines_per_minute: float = 33.0  # median background rate
    rate_volatility: float = 0.45  # std of the log-rate AR(1) process
    rate_persistence: float = 0.95  # AR(1) coefficient between consecutive minutes
    daily_amplitude: float = 0.3  # log-rate swing of the daily cycle
    zipf_exponent: float = 1.1  # normal-template frequency ∝ rank^-exponent
    rare_tail_templates: int = 16  # the last normal templates are rarer still ...
    rare_tail_factor: float = 0.02  # ... by this factor (~10 lines each in 200 k)
    repeat_prob: float = 0.06  # chance a normal line is repeated 1–3 times within 3 s
    n_nodes: int = 384  # node pool
    episodes_per_minute: float = 0.14
    episode_mix: tuple[float, float, float] = (0.45, 0.30, 0.25)  # rare, burst, both
    rare_lines_probs: tuple[float, ...] = (0.35, 0.25, 0.2, 0.12, 0.08)  # P(1..5 lines)
    rare_span: float = 15.0
    second_rare_template_prob: float = 0.25
    burst_lines: tuple[int, int] = (10, 40)  # inclusive range
    burst_span: tuple[float, float] = (2.0, 10.0)
    burst_rank_range: tuple[int, int] = (4, 45)  # 0-based normal-template ranks used for bursts
    distractor_near_episode: float = 0.85
    distractor_clusters_per_minute: float = 0.055  # spontaneous clusters (no episode)
    distractor_lines: tuple[int, int] = (3, 10)  # inclusive range per cluster
    distractor_span: float = 20.0  # cluster lines within ± this of its centre


DEFAULT_SPEC = SyntheticSpec()

# Profile "b": a second system for the cross-domain benchmark. Same event structure (normal Zipf
# traffic, rare / burst episodes, distractors), but its own vocabulary and its own rates: most
# words of every template are replaced (one word by one word, so token counts and hence the
# twins' separation by Drain are kept), components are renamed, and the traffic profile differs.
# Kept unchanged: the generic failure words a log of any system uses ("failed", "panic",
# "uncorrectable", "NOT", "dropped", "terminated", "critical", ...), the only bridge between
# the two vocabularies.
DIALECT_B_WORDS = {
    "error": "fault", "error(s)": "fault(s)", "Error": "Fault", "errors": "faults",
    "corrected": "repaired", "detected": "observed", "correct": "repair",
    "instruction": "opcode", "cache": "buffer", "parity": "checksum", "generating": "writing",
    "alignment": "misaligned", "exceptions": "traps", "exception": "trap", "ddr": "dimm",
    "ddr:": "dimm:", "rank": "bank", "symbol": "lane", "seconds": "secs", "torus": "mesh",
    "receiver": "port", "input": "ingress", "pipe": "queue", "floating": "vector",
    "point": "unit", "data": "payload", "search": "scan", "attempting": "trying",
    "BlueGene": "Cluster", "job": "task", "started": "launched", "partition": "pool",
    "completed": "finished", "tree": "fabric", "ciod:": "iod:", "Message": "Frame",
    "code": "status", "microseconds": "usecs", "signal": "sig", "handler": "hook",
    "interrupts.": "irqs.", "interrupts": "irqs", "interrupt": "irq",
    "Kernel": "Core", "integer": "int", "NodeCard": "Blade", "temperature": "thermal",
    "sensor": "probe", "reading": "reads", "fan": "cooler", "module": "unit",
    "speed": "rate", "within": "inside", "limits": "bounds", "Received": "Got",
    "redundant": "spare", "steering": "routing", "allocation": "alloc", "correctable": "soft",
    "threshold": "limit", "register:": "reg:", "register": "reg", "address:": "addr:",
    "address": "addr", "Node": "Blade", "node": "blade", "card": "board", "functional": "ok",
    "status:": "state:", "status": "state", "communication": "link", "connection": "session",
    "physical": "real", "dimension": "extent", "files": "dumps", "program": "binary",
    "power": "psu", "Power": "PSU", "mount": "attach", "succeeded": "done",
    "Lustre": "Ceph", "registers:": "regs:", "shutdown": "halt", "complete": "done",
    "complete.": "done.", "restarted.": "rebooted.", "has": "was", "been": "now",
    "subnets": "vlans", "addresses": "hosts", "chip": "asic", "processor": "cpu",
    "slot": "bay", "match.": "agree.", "found": "got", "Input": "Startup", "parameters:":
    "args:", "exited": "quit", "normally": "cleanly", "exit": "return", "being": "getting",
    "done": "run", "part": "piece", "restarting": "rebooting", "Service": "Repair",
    "Action": "Job", "midplane": "chassis", "NFS": "SMB", "ms": "msec", "cpu": "core",
    "message": "frame", "unrecognized": "unknown", "normalized": "scaled", "number": "value",
    "wait": "idle", "state": "mode", "enable": "on", "auxiliary": "helper",
    "ordering": "order", "guaranteed": "assured", "block": "chunk", "touch": "hint",
    "machine": "system", "check": "audit", "problem": "user", "booted": "up",
    "compute": "worker", "nodes": "blades", "boot": "start", "slow:": "late:",
    "bulk": "main", "output": "out", "voltage": "volts", "nominal": "normal", "Login": "Auth",
    "user": "account", "accepted": "granted", "from": "via", "closed": "shut",
    "control": "ctl", "stream": "channel", "socket": "conn", "Problem": "Trouble",
    "communicating": "talking", "service": "mgmt", "registered": "reported",
    "unexpected": "odd", "revision": "version", "Midplane": "Chassis", "switch": "router",
    "set": "put", "mode": "profile", "external": "outer", "handled": "served",
    "serial": "asset", "recorded": "logged", "retry": "again", "link": "lane",
    "re-training": "re-sync", "heartbeat": "keepalive", "poll": "probe",
    "after": "past", "TLB": "MMU", "storage": "memory", "read": "fetch", "prefix": "header",
    "on": "over", "LOAD_MESSAGE": "LOAD_FRAME", "CioStream": "IoStream",
    "receiving": "getting", "packet": "frame", "network,": "fabric,", "expecting": "wanted",
    "type": "kind", "instead": "rather", "replacing": "swapping", "soft": "minor",
    "failures,": "faults,", "failures": "faults", "excessive": "undue",
}
DIALECT_B_COMPONENTS = {"KERNEL": "CORE", "APP": "USER", "MMCS": "CTRL", "HARDWARE": "HW",
                        "MONITOR": "ENV", "DISCOVERY": "PROBE", "LINKCARD": "NET",
                        "SERV_NET": "SVCNET", "BGLMASTER": "MASTER", "CMCS": "CTRL"}


def _dialect_b(template: Template) -> Template:
    """A profile-"b" template: words replaced one for one (`{slots}` kept), component renamed;
    anomaly labels follow the component (`KERNDTLB` → `COREDTLB`)."""
    words = [w if w.startswith("{") else DIALECT_B_WORDS.get(w, w)
             for w in template.text.split(" ")]
    component = DIALECT_B_COMPONENTS.get(template.component, template.component)
    label = template.label
    if label != NORMAL_LABEL:
        label = component[:4] + label[4:]
    return Template(component, template.level, " ".join(words), label)


@dataclass(frozen=True)
class Profile:
    """A synthetic "system": its generator settings and its template table (same order and
    roles as ALL_TEMPLATES: normal, distractor, anomalous)."""

    spec: SyntheticSpec
    templates: tuple[Template, ...]


PROFILES = {
    "a": Profile(DEFAULT_SPEC, ALL_TEMPLATES),
    "b": Profile(SyntheticSpec(lines_per_minute=45.0, rate_volatility=0.35, zipf_exponent=0.9,
                               repeat_prob=0.1, n_nodes=256, episodes_per_minute=0.12,
                               episode_mix=(0.55, 0.25, 0.20), burst_rank_range=(2, 40),
                               distractor_near_episode=0.7),
                 tuple(_dialect_b(t) for t in ALL_TEMPLATES)),
    # Profile "needle": the paper's own scenario (issue 26). Every episode is a single rare
    # anomalous line (no bursts, no second line) inside a window of ~40 normal lines, and
    # distractor clusters still land near 90 % of episodes: the anomaly is the needle, the
    # distractors the correlated hay. Episodes are twice as frequent as in "a" (about a quarter
    # of the windows hold one) so that a small log still has positive bags to measure SR on.
    # Same vocabulary as "a".
    "needle": Profile(SyntheticSpec(lines_per_minute=40.0, episodes_per_minute=0.3,
                                    episode_mix=(1.0, 0.0, 0.0), rare_lines_probs=(1.0,),
                                    second_rare_template_prob=0.0, distractor_near_episode=0.9),
                      ALL_TEMPLATES),
}
"""Generator profiles by name: "a" (the default, BGL-like), "b" (a second system) and "needle"
(one anomalous line per episode among many normal lines, with correlated distractors)."""

GENERATOR_VERSION = 1
"""Bumped whenever the generator's code changes the file it writes for the same settings."""
_US = 1_000_000


def write_synthetic_log(path: Path, n_lines: int, seed: int, *,
                        spec: SyntheticSpec | None = None, profile: str = "a") -> None:
    """Write `n_lines` BGL-format lines to `path` atomically (temp file + os.replace).

    profile: a PROFILES name (its spec and template table); `spec` replaces the profile's spec.
    Deterministic: the same (n_lines, seed, spec, profile) gives a byte-identical file.
    """
    if n_lines < 1:
        raise ValueError(f"n_lines must be >= 1, got {n_lines}")
    if profile not in PROFILES:
        raise ValueError(f"unknown synthetic profile {profile!r}; known: {', '.join(PROFILES)}")
    spec = spec or PROFILES[profile].spec
    templates = PROFILES[profile].templates
    rng = np.random.default_rng(seed)
    nodes = _node_pool(rng, spec.n_nodes)
    events = _events(rng, n_lines, spec, templates)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            _write_lines(handle, rng, events, nodes, templates)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


class _Events(NamedTuple):
    """Columns of the event table, time-ordered: µs timestamps, template ids, node ids, labels."""

    time_us: np.ndarray  # (n,) int64
    template: np.ndarray  # (n,) int32 index into the profile's templates
    node: np.ndarray  # (n,) int32 index into the node pool
    label: np.ndarray  # (n,) object: "-" or the anomaly label


def _node_pool(rng: np.random.Generator, n: int) -> list[str]:
    """BGL-style compute/IO node locations, e.g. `R02-M1-N0-C:J12-U11`."""
    racks = rng.integers(0, 64, n)
    mids = rng.integers(0, 2, n)
    cards = rng.integers(0, 16, n)
    io = rng.random(n) < 0.1
    jacks = np.where(io, 18, rng.integers(2, 18, n))
    units = np.where(rng.random(n) < 0.5, 1, 11)
    return [f"R{r:02d}-M{m}-N{c:X}-{'I' if i else 'C'}:J{j:02d}-U{u:02d}"
            for r, m, c, i, j, u in zip(racks, mids, cards, io, jacks, units, strict=True)]


def _minute_counts(rng: np.random.Generator, n_lines: int, spec: SyntheticSpec) -> np.ndarray:
    """Background lines per minute until their total reaches `n_lines`: Poisson around a
    log-normal AR(1) rate with a daily cycle."""
    n_minutes = int(1.5 * n_lines / spec.lines_per_minute) + 60
    while True:
        noise = rng.normal(0.0, spec.rate_volatility * np.sqrt(1 - spec.rate_persistence**2),
                           n_minutes)
        log_rate = np.empty(n_minutes)
        level = rng.normal(0.0, spec.rate_volatility)
        for m in range(n_minutes):
            level = spec.rate_persistence * level + noise[m]
            log_rate[m] = level
        daily = spec.daily_amplitude * np.sin(2 * np.pi * np.arange(n_minutes) / 1440.0)
        counts = rng.poisson(spec.lines_per_minute * np.exp(log_rate + daily))
        total = np.cumsum(counts)
        if total[-1] >= n_lines:
            return counts[: int(np.searchsorted(total, n_lines)) + 1]
        n_minutes *= 2


def _events(rng: np.random.Generator, n_lines: int, spec: SyntheticSpec,
            table: tuple[Template, ...]) -> _Events:
    """Background + repeats + episodes + distractor clusters, merged, sorted, cut to n_lines."""
    counts = _minute_counts(rng, n_lines, spec)
    span_us = len(counts) * 60 * _US
    t0 = spec.start_epoch * _US

    # Background: uniform times inside each minute, Zipf templates, skewed nodes.
    n_bg = int(counts.sum())
    minute_of = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    times = [t0 + minute_of * 60 * _US + rng.integers(0, 60 * _US, n_bg)]
    weights = 1.0 / np.arange(1, N_NORMAL + 1) ** spec.zipf_exponent
    weights[N_NORMAL - spec.rare_tail_templates:] *= spec.rare_tail_factor
    tmpl_bg = rng.choice(N_NORMAL, size=n_bg, p=weights / weights.sum()).astype(np.int32)
    node_weights = rng.lognormal(0.0, 1.0, spec.n_nodes)
    node_bg = rng.choice(spec.n_nodes, size=n_bg, p=node_weights / node_weights.sum())
    templates, nodes = [tmpl_bg], [node_bg.astype(np.int32)]
    labels = [np.full(n_bg, NORMAL_LABEL, dtype=object)]

    def add(t: np.ndarray, tmpl: np.ndarray, node: np.ndarray, label: np.ndarray) -> None:
        times.append(t.astype(np.int64))
        templates.append(tmpl.astype(np.int32))
        nodes.append(node.astype(np.int32))
        labels.append(label)

    # Short normal repeats (1–3 copies within 3 s, same template and node).
    src = np.flatnonzero(rng.random(n_bg) < spec.repeat_prob)
    copies = rng.integers(1, 4, src.size)
    src = np.repeat(src, copies)
    add(times[0][src] + rng.integers(50_000, 3 * _US, src.size), tmpl_bg[src], node_bg[src],
        np.full(src.size, NORMAL_LABEL, dtype=object))

    # Anomaly episodes.
    n_ep = rng.poisson(spec.episodes_per_minute * len(counts))
    ep_start = t0 + rng.integers(0, span_us, n_ep)
    ep_node = rng.integers(0, spec.n_nodes, n_ep)
    kind = rng.choice(3, size=n_ep, p=spec.episode_mix)  # 0 rare, 1 burst, 2 both
    anom_w = 1.0 / np.arange(1, len(ANOMALOUS_TEMPLATES) + 1) ** 0.8
    anom_w /= anom_w.sum()
    for e in np.flatnonzero(kind != 1):  # rare anomalous lines
        n_rare = 1 + rng.choice(len(spec.rare_lines_probs), p=spec.rare_lines_probs)
        n_kinds = 2 if (n_rare > 1 and rng.random() < spec.second_rare_template_prob) else 1
        chosen = FIRST_ANOMALOUS + rng.choice(len(ANOMALOUS_TEMPLATES), n_kinds, replace=False,
                                              p=anom_w)
        tmpl = chosen[np.arange(n_rare) % n_kinds]
        t = ep_start[e] + rng.integers(0, int(spec.rare_span * _US), n_rare)
        add(t, tmpl, np.full(n_rare, ep_node[e]),
            np.array([table[i].label for i in tmpl], dtype=object))
    lo, hi = spec.burst_rank_range
    for e in np.flatnonzero(kind != 0):  # normal template in an abnormal burst
        tmpl = int(rng.integers(lo, hi + 1))
        n_burst = int(rng.integers(spec.burst_lines[0], spec.burst_lines[1] + 1))
        length = rng.uniform(*spec.burst_span) * _US
        t = ep_start[e] + rng.integers(0, int(spec.rare_span * _US) // 2 + 1) \
            + (rng.random(n_burst) * length).astype(np.int64)
        add(t, np.full(n_burst, tmpl), np.full(n_burst, ep_node[e]),
            np.full(n_burst, burst_label(table[tmpl].component), dtype=object))

    # Distractor clusters: near most episodes, and spontaneously elsewhere.
    near = ep_start[rng.random(n_ep) < spec.distractor_near_episode] + int(spec.rare_span * _US / 2)
    alone = t0 + rng.integers(0, span_us, rng.poisson(spec.distractor_clusters_per_minute
                                                      * len(counts)))
    for centre in np.concatenate([near, alone]):
        size = int(rng.integers(spec.distractor_lines[0], spec.distractor_lines[1] + 1))
        pair = N_NORMAL + rng.choice(N_DISTRACTOR, 2, replace=False)
        tmpl = pair[(rng.random(size) < 0.35).astype(int)]
        jitter = rng.uniform(-spec.distractor_span, spec.distractor_span, size) * _US
        add(centre + jitter.astype(np.int64), tmpl, rng.integers(0, spec.n_nodes, size),
            np.full(size, NORMAL_LABEL, dtype=object))

    time_us = np.concatenate(times)
    order = np.argsort(time_us, kind="stable")[:n_lines]
    return _Events(time_us[order], np.concatenate(templates)[order],
                   np.concatenate(nodes)[order], np.concatenate(labels)[order])


RENDER_CHUNK = 100_000
"""Lines formatted and written per chunk: memory stays O(chunk) in Python strings."""


def _param_draws(kind: str, rng: np.random.Generator, n: int, n_nodes: int) -> list[np.ndarray]:
    """The random numbers behind `n` values of one `{kind}` slot (int64 columns)."""
    if kind == "int":
        return [np.floor(rng.lognormal(3.0, 2.0, n)).astype(np.int64)]
    if kind == "small":
        return [rng.integers(0, 32, n)]
    if kind == "hex":
        return [rng.integers(0, 2**32, n)]
    if kind == "ip":
        return [rng.integers(0, 256, n), rng.integers(1, 255, n)]
    if kind == "port":
        return [rng.integers(1024, 65536, n)]
    if kind == "node":
        return [rng.integers(0, n_nodes, n)]
    if kind == "core":
        return [rng.integers(0, 16384, n)]
    if kind == "job":
        return [rng.integers(10_000, 999_999, n)]
    if kind == "path":
        return [rng.integers(1, 9, n), rng.integers(0, 400, n), rng.integers(0, 100, n)]
    raise ValueError(f"unknown parameter kind {{{kind}}}")


def _param_text(kind: str, draws: list[np.ndarray], nodes: list[str]) -> list[str]:
    """Format the draws of one `{kind}` slot as strings."""
    cols = [d.tolist() for d in draws]
    if kind == "hex":
        return [f"0x{v:08x}" for v in cols[0]]
    if kind == "ip":
        return [f"172.16.{x}.{y}" for x, y in zip(*cols, strict=True)]
    if kind == "node":
        return [nodes[i] for i in cols[0]]
    if kind == "core":
        return [f"core.{v}" for v in cols[0]]
    if kind == "path":
        return [f"/p/gb{x}/user{y}/run{z}" for x, y, z in zip(*cols, strict=True)]
    return [str(v) for v in cols[0]]


class _Params(NamedTuple):
    """Per template: its parameter kinds and their draws (one array per column, one row per
    line of that template, in line order); rank[i] = line i's row in its template's draws."""

    kinds: dict[int, list[str]]
    draws: dict[int, list[list[np.ndarray]]]
    rank: np.ndarray


def _draw_params(rng: np.random.Generator, ev: _Events, n_nodes: int,
                 templates: tuple[Template, ...]) -> _Params:
    """Draw every line's parameters, template by template (ascending id), slot by slot."""
    kinds: dict[int, list[str]] = {}
    draws: dict[int, list[list[np.ndarray]]] = {}
    rank = np.zeros(len(ev.template), dtype=np.int64)
    for tid in np.unique(ev.template).tolist():
        rows = np.flatnonzero(ev.template == tid)
        rank[rows] = np.arange(rows.size)
        kinds[tid] = PLACEHOLDER.findall(templates[tid].text)
        draws[tid] = [_param_draws(k, rng, rows.size, n_nodes) for k in kinds[tid]]
    return _Params(kinds, draws, rank)


def _write_lines(handle, rng: np.random.Generator, ev: _Events, nodes: list[str],
                 templates: tuple[Template, ...]) -> None:
    """Write one BGL line per event, each content filled with fresh random parameters.

    All random draws happen first (per template), then lines are formatted and written in
    chunks of RENDER_CHUNK, so no per-line Python object lives for the whole log.
    """
    params = _draw_params(rng, ev, len(nodes), templates)
    formats = {tid: PLACEHOLDER.sub("{}", templates[tid].text) for tid in params.kinds}
    components = [t.component for t in templates]
    levels = [t.level for t in templates]
    for lo in range(0, len(ev.time_us), RENDER_CHUNK):
        part = slice(lo, lo + RENDER_CHUNK)
        tmpl, rank = ev.template[part], params.rank[part]
        contents = np.empty(len(tmpl), dtype=object)
        for tid in np.unique(tmpl).tolist():
            rows = np.flatnonzero(tmpl == tid)
            if not params.kinds[tid]:
                contents[rows] = templates[tid].text
                continue
            picked = rank[rows]
            columns = [_param_text(k, [d[picked] for d in draw], nodes)
                       for k, draw in zip(params.kinds[tid], params.draws[tid], strict=True)]
            contents[rows] = [formats[tid].format(*values) for values in zip(*columns,
                                                                                strict=True)]
        time_us = ev.time_us[part]
        stamps = np.datetime_as_string(time_us.astype("datetime64[us]"), unit="us").tolist()
        epochs = (time_us // _US).tolist()
        lines = []
        for label, epoch, stamp, node, tid, content in zip(
                ev.label[part].tolist(), epochs, stamps, ev.node[part].tolist(), tmpl.tolist(),
                contents.tolist(), strict=True):
            where = nodes[node]
            lines.append(f"{label} {epoch} {stamp[:10].replace('-', '.')} {where} "
                         f"{stamp[:10]}-{stamp[11:].replace(':', '.')} {where} RAS "
                         f"{components[tid]} {levels[tid]} {content}\n")
        handle.write("".join(lines))
