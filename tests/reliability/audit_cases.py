"""Cases of the third reliability audit (issue 23), shared by the tests and bench/reliability.py.

Each case builds its situation in a fresh work directory on the tiny dataset and tiny model (no
real data, a second or two of training), runs the harness's own entry points in this process,
and returns its verdict: "clear error" (exit 2 or 1 with one line naming the path and cause),
"warning" (a warning naming the path, the right result) or "correct". A wrong result raises
AssertionError (judged "silent wrong", or "data lost" when its message starts so); any other
exception is a "traceback", and a case running past its time limit is a "hang".
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parents[1]
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

import tiny_template_model  # noqa: E402
from cases import collect_warnings, time_limit  # noqa: E402
from conftest import make_tiny_dataset  # noqa: E402

from benchmark import grid  # noqa: E402

MODEL = tiny_template_model.NAME
CASE_SECONDS = 120


class Hang(BaseException):
    """A case past its time limit (a BaseException: no `except OSError` or `except Exception`
    in the code under test can swallow it, as TimeoutError, an OSError, would be)."""


@dataclass(frozen=True)
class AuditCase:
    name: str
    run: Callable[[Path], str]
    expected: str
    sample: str | None = None
    """A Loghub 2k file the case reads (tests/loghub.py: skipped, or failed in CI, without it)."""


@dataclass
class Call:
    """What one CLI call did."""

    code: int | None
    stdout: str
    stderr: str
    warnings: list[str]


def _source() -> grid.DataSource:
    def identity(name, **_):
        return {"card": name}

    return grid.DataSource(prepare=lambda name, **_: make_tiny_dataset(bags_per_split=24),
                           identity=identity)


def run_all(results: Path, *extra: str, datasets: tuple[str, ...] = ("tiny",)) -> Call:
    """`run_all.py` on the tiny data, seed 0, in this process."""
    from benchmark.cli import run_all_main

    argv = ["--datasets", *datasets, "--models", MODEL, "--seeds", "0", "--device", "cpu",
            "--threads", "1", "--results-dir", str(results), *extra]
    return _call(lambda: run_all_main(argv, _source()))


def report_only(results: Path, *extra: str) -> Call:
    from benchmark.cli import run_all_main

    return _call(lambda: run_all_main(["--report-only", "--results-dir", str(results), *extra]))


def benchmark_cli(*argv: str) -> Call:
    from benchmark.cli import benchmark_main

    return _call(lambda: benchmark_main(list(argv)))


def _call(fn: Callable[[], int]) -> Call:
    out, err = io.StringIO(), io.StringIO()
    with collect_warnings() as warnings, contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(err):
        try:
            code = fn()
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 2
    return Call(code, out.getvalue(), err.getvalue(), list(warnings))


def judge(case: AuditCase, where: Path, timeout: int = CASE_SECONDS) -> str:
    """The case's verdict (see the module docstring); never raises."""
    tiny_template_model.register()
    try:
        with time_limit(timeout, Hang):
            return case.run(where)
    except Hang:
        return "hang"
    except AssertionError as err:
        return "data lost" if str(err).startswith("data lost") else "silent wrong"
    except Exception:  # noqa: BLE001 - an unexpected exception is what is being counted
        traceback.print_exc()
        return "traceback"
    finally:
        tiny_template_model.unregister()


def clear_error(call: Call, *needles: str, code: int = 2) -> str:
    """"clear error" when `call` exited `code` with one `error:` line holding every needle."""
    assert "Traceback" not in call.stderr, call.stderr
    assert call.code == code, f"exit {call.code}, expected {code}: {call.stderr[-500:]}"
    lines = [line for line in call.stderr.splitlines() if line.startswith("error:")]
    assert lines, f"no error line: {call.stderr[-500:]}"
    for needle in needles:
        assert any(needle in line for line in lines), f"{needle!r} not in {lines}"
    return "clear error"


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.is_symlink()}


# ---------------------------------------------------------------- 1. records never overwritten

def _default_then(where: Path, *extra: str) -> str:
    results = where / "results"
    assert run_all(results).code == 0
    runs = results / "runs" / "tiny" / MODEL
    default = {p: p.read_bytes() for p in (runs / "seed0.json",
                                           results / "models" / "tiny" / MODEL
                                           / "seed0.scores.npz")}
    table = (results / "tables" / "table1.md").read_text()
    call = run_all(results, *extra)
    assert call.code == 0, call.stderr
    for path, data in default.items():
        if path.read_bytes() != data:
            raise AssertionError(f"data lost: {path} was overwritten by another config")
    variants = [p.parent.name for p in runs.glob("*/seed0.json")]
    assert len(variants) == 1, variants
    assert report_only(results).code == 0
    assert (results / "tables" / "table1.md").read_text() == table  # the default report
    assert report_only(results, "--variant", variants[0]).code == 0
    assert (results / "tables" / variants[0] / "table1.md").is_file()
    return "correct"


def quick_run_beside_default_record(where: Path) -> str:
    return _default_then(where, "--quick")


def set_run_beside_default_record(where: Path) -> str:
    return _default_then(where, "--set", f"{MODEL}.epochs=3")


# ---------------------------------------------------------------- 2. names are names

def _dataset_path_refused(name: str) -> Callable[[Path], str]:
    def case(where: Path) -> str:
        results = where / "a" / "b" / "results"
        call = run_all(results, datasets=(name,))
        verdict = clear_error(call, name, "not a name")
        assert not [p for p in where.rglob("*.json")], "a record was written"
        return verdict

    return case


def describe_path_refused(where: Path) -> str:
    return clear_error(benchmark_cli("describe", "../datasets/bgl"), "not a name")


def localize_path_refused(where: Path) -> str:
    log = where / "x.log"
    log.write_text("x\n")
    call = benchmark_cli("localize", "--model", "../../x", "--trained-on", "synthetic",
                         "--log", str(log), "--results-dir", str(where / "results"))
    return clear_error(call, "not a name")


def symlink_out_of_results_refused(where: Path) -> str:
    results, outside = where / "results", where / "elsewhere"
    (results / "runs").mkdir(parents=True)
    outside.mkdir()
    (results / "runs" / "tiny").symlink_to(outside, target_is_directory=True)
    verdict = clear_error(run_all(results), "outside the results folder")
    assert not list(outside.rglob("*")), "written outside the results folder"
    return verdict


# ---------------------------------------------------------------- 2. results-folder hygiene

def alias_symlink_quarantines_nothing(where: Path) -> str:
    results = where / "results"
    assert run_all(results).code == 0
    runs = results / "runs"
    (runs / "alias").symlink_to("tiny", target_is_directory=True)
    before = _files(runs)
    call = report_only(results)
    assert call.code == 0, call.stderr
    if _files(runs) != before:
        raise AssertionError("data lost: a record was moved through the alias")
    assert any(str(runs / "alias") in w for w in call.warnings), call.warnings
    assert f"| {MODEL}" in (results / "tables" / "table1.md").read_text()
    return "warning"


def fifo_record_never_opened(where: Path) -> str:
    results = where / "results"
    assert run_all(results).code == 0
    fifo = results / "runs" / "tiny" / "other" / "seed0.json"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    call = report_only(results)
    assert call.code == 0, call.stderr
    assert any(str(fifo) in w for w in call.warnings), call.warnings
    return "warning"


def fifo_record_of_a_planned_run(where: Path) -> str:
    results = where / "results"
    fifo = results / "runs" / "tiny" / MODEL / "seed0.json"
    fifo.parent.mkdir(parents=True)
    os.mkfifo(fifo)
    call = run_all(results)
    assert call.code == 0 and "1 finished" in call.stdout, call.stderr
    assert any(str(fifo) in w for w in call.warnings), call.warnings
    assert json.loads(fifo.read_text())["model"] == MODEL  # replaced by the record
    return "warning"


def fifo_score_file_never_opened(where: Path) -> str:
    results = where / "results"
    assert run_all(results).code == 0
    scores = results / "models" / "tiny" / MODEL / "seed0.scores.npz"
    scores.unlink()
    os.mkfifo(scores)
    call = report_only(results, "--loc-k", "1")
    assert call.code == 0, call.stderr
    assert any(str(scores) in w for w in call.warnings), call.warnings
    return "warning"


LAYOUT_CASES = [
    AuditCase("README quick command beside a committed default record",
              quick_run_beside_default_record, "correct"),
    AuditCase("--set run beside a default record", set_run_beside_default_record, "correct"),
    AuditCase("--datasets ../datasets/bgl", _dataset_path_refused("../datasets/bgl"),
              "clear error"),
    AuditCase("--datasets ../../../elsewhere/bgl",
              _dataset_path_refused("../../../elsewhere/bgl"), "clear error"),
    AuditCase("describe ../datasets/bgl", describe_path_refused, "clear error"),
    AuditCase("localize --model ../../x", localize_path_refused, "clear error"),
    AuditCase("runs/<dataset> a symlink out of the results folder",
              symlink_out_of_results_refused, "clear error"),
    AuditCase("symlink runs/alias -> a sibling dataset", alias_symlink_quarantines_nothing,
              "warning"),
    AuditCase("FIFO in place of a record (report)", fifo_record_never_opened, "warning"),
    AuditCase("FIFO in place of a planned run's record", fifo_record_of_a_planned_run,
              "warning"),
    AuditCase("FIFO in place of a score file (report --loc-k)", fifo_score_file_never_opened,
              "warning"),
]


# ---------------------------------------------------------------- 3. saved models verified

def _trained(where: Path, *extra: str) -> Path:
    results = where / "results"
    call = run_all(results, *extra)
    assert call.code == 0, call.stderr
    return results


def _model_file(results: Path) -> Path:
    return results / "models" / "tiny" / MODEL / "seed0.pt"


def _reseal(path: Path, change: Callable[[dict], None]) -> None:
    """Edit a saved model's payload and write it back with a recomputed digest (what a careful
    tamperer does; only the record comparison can catch it then)."""
    import torch

    from benchmark.artifacts import MODEL_MAGIC
    from benchmark.sealed import seal, unseal

    payload = torch.load(io.BytesIO(unseal(MODEL_MAGIC, path.read_bytes())), weights_only=True)
    change(payload)
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    path.write_bytes(seal(MODEL_MAGIC, buffer.getvalue()))


def _load_error(results: Path, *needles: str) -> str:
    from benchmark.data.errors import DataError
    from benchmark.layout import ResultsLayout, RunKey
    from benchmark.localize import _load

    try:
        _load(ResultsLayout(results), RunKey("tiny", MODEL, 0), "cpu")
    except DataError as err:
        for needle in needles:
            assert needle in str(err), f"{needle!r} not in {err}"
        assert "\n" not in str(err)
        return "clear error"
    raise AssertionError("the tampered model was loaded")


def flipped_weight_bit_refused(where: Path) -> str:
    results = _trained(where)
    path = _model_file(results)
    raw = bytearray(path.read_bytes())
    raw[len(raw) * 2 // 3] ^= 0x10  # one bit inside the payload (weights)
    path.write_bytes(bytes(raw))
    return _load_error(results, str(path), "sha256 mismatch")


def edited_threshold_refused(where: Path) -> str:
    results = _trained(where)
    _reseal(_model_file(results), lambda p: p.__setitem__("threshold", 0.0))
    return _load_error(results, "τ = 0.0", "record's τ")


def other_config_hash_refused(where: Path) -> str:
    results = _trained(where)
    _reseal(_model_file(results), lambda p: p.__setitem__("config_hash", "f" * 64))
    return _load_error(results, "ffffffffffff", "config hash")


def partial_model_dict_refused(where: Path) -> str:
    results = _trained(where)
    _reseal(_model_file(results), lambda p: [p.pop(k) for k in ("templates", "state")])
    return _load_error(results, str(_model_file(results)), "incomplete model file")


def checkpoint_epoch_out_of_range_refused(where: Path) -> str:
    from benchmark import checkpoint

    results = _trained(where, "--keep-checkpoints")
    [path] = (results / "checkpoints" / "tiny" / MODEL).glob("seed0-*.pt")
    state = checkpoint.load(path, _checkpoint_identity(path))
    assert state is not None
    state.payload["epoch"] = -3
    checkpoint.save(path, state)  # digest recomputed: only the field check can refuse it
    call = run_all(results, "--force", "--keep-checkpoints")
    assert call.code == 0, call.stderr
    assert any(str(path) in w and "epoch -3" in w for w in call.warnings), call.warnings
    record = json.loads((results / "runs" / "tiny" / MODEL / "seed0.json").read_text())
    epochs = record["config"]["epochs"]
    assert len(record["history"]["losses"]) <= epochs, "trained more epochs than configured"
    return "warning"


def _checkpoint_identity(path: Path) -> dict:
    import torch

    from benchmark.checkpoint import MAGIC
    from benchmark.sealed import unseal

    content = torch.load(io.BytesIO(unseal(MAGIC, path.read_bytes())), weights_only=True)
    return content["identity"]


def forged_md5_verdict_refused(where: Path) -> str:
    import zipfile

    from cases import BGL_2K, bgl_zip_with_pinned_card

    from benchmark.data import cache as cache_module
    from benchmark.data import pipeline

    archive, pinned = bgl_zip_with_pinned_card(where)
    raw = archive.parent
    real = pipeline.load_card
    pipeline.load_card = lambda name: pinned
    try:
        args = ("describe", "bgl", "--data-dir", str(where / "data"))
        assert benchmark_cli(*args).code == 0  # the genuine file; its verdict is remembered
        lines = BGL_2K.read_text().splitlines(keepends=True)
        with zipfile.ZipFile(raw / "BGL.zip", "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("BGL.log", "".join(lines[:1500]))  # another file
        cache_module._IDENTITIES.clear()
        identity = cache_module.content_identity(raw / "BGL.zip")
        verdicts = where / "data" / "cache" / "bgl" / "md5-verdicts.json"
        known = json.loads(verdicts.read_text())
        forged = dict(next(iter(known.values())))  # the genuine entry, copied by hand
        known[f"{identity['size']}:{identity['sha256']}"] = forged
        verdicts.write_text(json.dumps(known))
        call = benchmark_cli(*args)
    finally:
        pipeline.load_card = real
    if call.code == 0:
        raise AssertionError("a hand-made verdict blessed another file")
    return clear_error(call, "BGL.zip: md5 is")


ARTIFACT_CASES = [
    AuditCase("one flipped bit in a saved model", flipped_weight_bit_refused, "clear error"),
    AuditCase("saved model's τ edited to 0 (digest recomputed)", edited_threshold_refused,
              "clear error"),
    AuditCase("saved model of another config hash than its record", other_config_hash_refused,
              "clear error"),
    AuditCase("saved model holding a partial dict", partial_model_dict_refused, "clear error"),
    AuditCase("checkpoint epoch -3 (digest recomputed)", checkpoint_epoch_out_of_range_refused,
              "warning"),
    AuditCase("hand-made entry in the MD5 verdict cache", forged_md5_verdict_refused,
              "clear error", sample="BGL_2k.log"),
]


# ---------------------------------------------------------------- 4. outputs, OS errors, Ctrl-C

def localize_output_is_the_log(where: Path) -> str:
    log = where / "v.md"
    log.write_text("my log\n")
    call = benchmark_cli("localize", "--model", "deeplog", "--trained-on", "synthetic",
                         "--log", str(log), "--output", str(log),
                         "--results-dir", str(where / "results"))
    verdict = clear_error(call, str(log), "refusing to overwrite")
    if log.read_text() != "my log\n":
        raise AssertionError(f"data lost: {log} overwritten")
    return verdict


def localize_output_folder_missing(where: Path) -> str:
    log = where / "v.log"
    log.write_text("my log\n")
    out = where / "missing" / "report.json"
    call = benchmark_cli("localize", "--model", "deeplog", "--trained-on", "synthetic",
                         "--log", str(log), "--output", str(out),
                         "--results-dir", str(where / "results"))
    verdict = clear_error(call, str(out.parent), "does not exist")
    assert not out.parent.exists()
    return verdict


def _interrupted(command: list[str], target: str) -> Callable[[Path], str]:
    def case(where: Path) -> str:
        import importlib

        module_name, _, attr = target.rpartition(".")
        module = importlib.import_module(module_name)
        real = getattr(module, attr)

        def interrupt(*args, **kwargs):
            raise KeyboardInterrupt

        setattr(module, attr, interrupt)
        try:
            log = where / "x.log"
            log.write_text("x\n")
            call = benchmark_cli(*[a.replace("{log}", str(log)).replace("{where}", str(where))
                                   for a in command])
        finally:
            setattr(module, attr, real)
        assert call.code == 130 and "Traceback" not in call.stderr, call
        assert len(call.stderr.strip().splitlines()) == 1, call.stderr
        return "clear error"

    return case


def _failing(error: OSError) -> Callable[..., None]:
    def raiser(*args, **kwargs):
        raise error

    return raiser


def report_disk_full_keeps_summary(where: Path) -> str:
    import errno

    from benchmark import grid as grid_module

    real = grid_module.build_report
    full = where / "results" / "tables" / "table1.md"
    grid_module.build_report = _failing(OSError(errno.ENOSPC, "No space left on device",
                                                    str(full)))
    try:
        call = run_all(where / "results")
    finally:
        grid_module.build_report = real
    assert "1 finished" in call.stdout, call.stdout  # the grid's summary is not lost
    return clear_error(call, str(full), "No space left on device", code=2)


def data_generation_disk_full(where: Path) -> str:
    import errno

    from benchmark.cli import run_all_main

    raw = where / "datasets" / "raw" / "synthetic" / "synthetic.log"
    source = grid.DataSource(prepare=_failing(OSError(errno.ENOSPC, "No space left on "
                                                          "device", str(raw))),
                             identity=lambda name, **_: {"card": name})
    call = _call(lambda: run_all_main(["--datasets", "tiny", "--models", MODEL, "--seeds", "0",
                                       "--device", "cpu", "--results-dir",
                                       str(where / "results")], source))
    return clear_error(call, str(raw), "No space left on device")


def unreachable_dask_scheduler(where: Path) -> str:
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        call = run_all(where / "results", "--backend", "dask", "--scheduler",
                       "tcp://127.0.0.1:9")
    return clear_error(call, "tcp://127.0.0.1:9", "cannot connect")


def markdown_file_name_escaped(where: Path) -> str:
    from benchmark.report.localize_html import to_markdown

    name = "a`<img src=x onerror=alert(1)>`.log"
    result = {"log_file": name, "model": "m", "trained_on": "d", "seed": 0, "threshold": 0.5,
              "lines": 1, "bags": 1, "flagged": 0, "unknown": {"lines": 0}, "windows": []}
    heading = to_markdown(result).splitlines()[0]
    assert heading.count("`") == 2 and heading.endswith("`"), heading  # one code span
    assert "<img src=x onerror=alert(1)>" in heading
    return "correct"


EDGE_CASES = [
    AuditCase("localize --log v.md --output v.md", localize_output_is_the_log, "clear error"),
    AuditCase("localize --output into a missing folder", localize_output_folder_missing,
              "clear error"),
    AuditCase("Ctrl-C in download",
              _interrupted(["download", "bgl", "--data-dir", "{where}"],
                           "benchmark.data.download.fetch_source"), "clear error"),
    AuditCase("Ctrl-C in localize",
              _interrupted(["localize", "--model", "deeplog", "--trained-on", "synthetic",
                            "--log", "{log}"], "benchmark.localize.localize"), "clear error"),
    AuditCase("ENOSPC while the grid writes its report", report_disk_full_keeps_summary,
              "clear error"),
    AuditCase("ENOSPC while data are generated", data_generation_disk_full, "clear error"),
    AuditCase("unreachable Dask scheduler", unreachable_dask_scheduler, "clear error"),
    AuditCase("file name with ` and <img onerror> in the Markdown report",
              markdown_file_name_escaped, "correct"),
]


# ---------------------------------------------------------------- 5. a lock per run

def _plant_lock(results: Path, pid: int) -> Path:
    import socket

    lock = results / "runs" / "tiny" / MODEL / "seed0.json.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text(json.dumps({"pid": pid, "host": socket.gethostname(), "started": 0}))
    return lock


def live_lock_respected(where: Path) -> str:
    import subprocess

    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        results = where / "results"
        lock = _plant_lock(results, holder.pid)
        call = run_all(results)
        assert call.code == 0 and "0 finished" in call.stdout, call.stdout + call.stderr
        assert lock.exists() and not lock.with_suffix("").exists()  # left to its holder
    finally:
        holder.kill()
        holder.wait()
    return "correct"


def stale_lock_taken_over(where: Path) -> str:
    import subprocess

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    results = where / "results"
    lock = _plant_lock(results, gone.pid)
    call = run_all(results)
    assert call.code == 0 and "1 finished" in call.stdout, call.stdout + call.stderr
    assert any("stale lock" in w and str(lock) in w for w in call.warnings), call.warnings
    assert not lock.exists()
    return "warning"


def two_grids_split_the_work(where: Path) -> str:
    import threading

    from benchmark.grid import GridOptions, run_grid

    options = GridOptions(datasets=("tiny",), models=(MODEL,), seeds=(0, 1, 2, 3),
                          device="cpu", threads=1, results_dir=where / "results")
    outcomes: list = []
    errors: list = []

    def grid_run() -> None:
        try:
            outcomes.append(run_grid(options, _source()))
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=grid_run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    finished = [p for o in outcomes for p in o.finished]
    assert len(finished) == len(set(finished)) == 4, f"runs trained twice: {finished}"
    assert not list((where / "results" / "runs").rglob("*.lock"))
    return "correct"


LOCK_CASES = [
    AuditCase("a run locked by a live grid is left to it", live_lock_respected, "correct"),
    AuditCase("stale lock of a dead process taken over", stale_lock_taken_over, "warning"),
    AuditCase("two grids on one results folder split the work", two_grids_split_the_work,
              "correct"),
]


# ---------------------------------------------------------------- 6. LLM labeller

class _Endpoint:
    """A chat-completions server on 127.0.0.1 whose n-th request (0-based) gets `plan(n)`:
    "ok", "500", "reset" (the connection dropped) or "drip" (the answer a byte every 0.5 s)."""

    def __init__(self, plan: Callable[[int], str]) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        endpoint = self
        self.requests = 0

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                import time

                self.rfile.read(int(self.headers["Content-Length"]))
                n, endpoint.requests = endpoint.requests, endpoint.requests + 1
                what = plan(n)
                if what == "reset":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                body = json.dumps({"choices": [{"message": {"content": json.dumps(
                    {"label": "normal", "confidence": 0.8})}}]}).encode()
                self.send_response(500 if what == "500" else 200)
                self.send_header("Content-Length", str(len(body) * (40 if what == "drip" else 1)))
                self.end_headers()
                if what == "drip":
                    try:
                        for _ in range(len(body) * 40):
                            self.wfile.write(b" ")
                            self.wfile.flush()
                            time.sleep(0.5)
                    except OSError:
                        return
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> _Endpoint:
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def _llm(url: str, **options):
    from benchmark.labelling import get_labeller

    return get_labeller("llm", url=url, **options)


def dripping_llm_cut_off(where: Path) -> str:
    import time

    from benchmark.labelling import LabellingError

    with _Endpoint(lambda n: "drip") as server:
        start = time.monotonic()
        try:
            _llm(server.url, timeout=1, deadline=2, retries=1, backoff=0.1).label(["x"])
        except LabellingError as err:
            took = time.monotonic() - start
            assert "deadline" in str(err) and took < 8, (took, err)
            return "clear error"
    raise AssertionError("a dripping answer was accepted")


def llm_500_retried(where: Path) -> str:
    with _Endpoint(lambda n: "500" if n in (0, 3) else "ok") as server:
        got = _llm(server.url, retries=2, backoff=0.01).label([f"text {i}" for i in range(10)])
        assert list(got.labels) == [0] * 10 and server.requests == 12
    return "correct"


def llm_reset_retried(where: Path) -> str:
    with _Endpoint(lambda n: "reset" if n == 1 else "ok") as server:
        got = _llm(server.url, retries=1, backoff=0.01).label(["a", "b", "c"])
        assert list(got.labels) == [0, 0, 0] and server.requests == 4
    return "correct"


def llm_answers_kept(where: Path) -> str:
    from benchmark.labelling import LabellingError

    answers = where / "answers.jsonl"
    texts = [f"text {i}" for i in range(10)]
    with _Endpoint(lambda n: "ok" if n < 9 else "500") as server:
        try:
            _llm(server.url, retries=1, backoff=0.01, answers=answers).label(texts)
            raise AssertionError("the failing endpoint was not reported")
        except LabellingError:
            pass
    if len(answers.read_text().splitlines()) != 9:
        raise AssertionError("data lost: the 9 answers received were not kept")
    with _Endpoint(lambda n: "ok") as server:
        got = _llm(server.url, answers=answers).label(texts)
        assert len(got.labels) == 10 and server.requests == 1, server.requests  # resumed
    return "correct"


LLM_CASES = [
    AuditCase("LLM endpoint dripping its answer", dripping_llm_cut_off, "clear error"),
    AuditCase("LLM endpoint answering 500 twice", llm_500_retried, "correct"),
    AuditCase("LLM endpoint dropping a connection", llm_reset_retried, "correct"),
    AuditCase("LLM answers received before a failure kept", llm_answers_kept, "correct"),
]


AUDIT_CASES = LAYOUT_CASES + ARTIFACT_CASES + EDGE_CASES + LOCK_CASES + LLM_CASES


def judge_in_subprocess(case: AuditCase, where: Path, timeout: int = CASE_SECONDS) -> str:
    """`judge` in a fresh Python process (a hang that even SIGALRM cannot break is killed
    there and counted as "hang"); the verdict is the child's last line."""
    import subprocess

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(TESTS_DIR.parent), os.environ.get("PYTHONPATH", "")])}
    try:
        child = subprocess.run([sys.executable, __file__, case.name, str(where)],
                               capture_output=True, text=True, timeout=timeout + 30,
                               cwd=TESTS_DIR.parent, env=env)
    except subprocess.TimeoutExpired:
        return "hang"
    lines = child.stdout.strip().splitlines()
    return lines[-1] if child.returncode == 0 and lines else "traceback"


if __name__ == "__main__":
    import logging

    logging.basicConfig(level=logging.CRITICAL)
    [chosen] = [c for c in AUDIT_CASES if c.name == sys.argv[1]]
    print(judge(chosen, Path(sys.argv[2])))
