"""Where the pending runs of one dataset execute: this process, local joblib workers, or Dask.

`local`: serial with `jobs == 1`, else `jobs` joblib (loky) worker processes, one torch thread
each. `dask`: each run is one task on a `dask.distributed` cluster, either the scheduler at
`scheduler` (an address like `tcp://10.0.0.1:8786`) or, without it, a `LocalCluster` of `jobs`
single-threaded worker processes on this machine, started and closed here.

The Dask backend uses the `Client` directly rather than joblib's dask backend, because the
client gives the three things this needs in one call each, which the joblib backend hides: the
prepared dataset becomes one cluster-side value per dataset that every task references;
`submit(retries=, resources=)` sets per-task retries and the GPU slot; `as_completed` yields
results in finish order while the driver keeps the progress bar.

The dataset travels once per dataset to the scheduler, as the argument of a trivial task, and
from there (or from a peer) once to each worker that runs a task of it. It is deliberately not
`client.scatter(broadcast=True)`: scattered data live only in workers' memory, so losing the
workers that hold them loses the data for good and every retry fails ("caused the cluster to lose
scattered data"); a task's result is recomputed by the scheduler from the copy it keeps.

A task's own failure (an exception in the run) is caught by `run` on the worker and comes back
as an error string, like a local failure. A worker lost mid-task (killed, out of memory, node
gone) is rescheduled by the scheduler on another worker (up to the scheduler's
`distributed.scheduler.allowed-failures`, default 3) and, since the trainer checkpoints every
epoch into the shared results directory, the retry resumes after the last finished epoch; any
other task error (e.g. the run cannot be unpickled) is retried `TASK_RETRIES` times, then
reported as that run's failure. Workers write their records themselves (atomically) into the
shared results directory, so the results directory must be a path all workers see.

GPUs: when the runs' device is CUDA, every task asks for the resource `GPU: 1`, so a worker runs
at most as many runs at once as it declares GPUs: start each worker with one GPU visible and
`--resources GPU=1` (e.g. `CUDA_VISIBLE_DEVICES=0 dask worker ADDRESS --nthreads 1
--resources GPU=1`). The LocalCluster started without `--scheduler` declares `GPU: 1` per worker
and lets them share the visible GPUs (like local joblib workers do).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any, Literal

import torch
from joblib import Parallel, delayed

log = logging.getLogger(__name__)

BACKENDS = ("local", "dask")
TASK_RETRIES = 2
STOP_TIMEOUT = 1
"""Seconds the Dask client and LocalCluster get to close when the grid is being stopped."""

Outcome = tuple[Any, str | None]
"""(run spec, None on success or the error text)."""


def run_pending(
    run: Callable[[Any, Any, Any], Outcome],
    pending: list[Any],
    dataset: Any,
    context: Any,
    jobs: int,
    backend: Literal["local", "dask"] = "local",
    scheduler: str | None = None,
) -> Iterator[Outcome]:
    """Execute `run(spec, dataset, context)` for every spec in `pending`; yield each outcome.

    run must catch its own failures and return (spec, error text) (a module-level function, so
    workers can import it); outcomes arrive in completion order. context: a
    benchmark.run.RunContext (its `device` decides whether tasks ask for a GPU).
    """
    if backend == "local":
        yield from _run_local(run, pending, dataset, context, jobs)
    elif backend == "dask":
        yield from _run_dask(run, pending, dataset, context, jobs, scheduler)
    else:
        raise ValueError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")


def in_worker(run: Callable[[Any, Any, Any], Outcome], spec: Any, dataset: Any, context: Any,
              level: int) -> Outcome:
    """A worker process's run: `context.threads` torch threads (None: one, since workers share
    the cores), logging to stderr at the driver's level."""
    context = dataclasses.replace(context, threads=context.threads or 1)
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level, stream=sys.stderr,
                            format="%(levelname)s %(name)s: %(message)s")
    root.setLevel(level)
    return run(spec, dataset, context)


def _run_local(run, pending, dataset, context, jobs) -> Iterator[Outcome]:
    if jobs == 1:
        for spec in pending:
            yield run(spec, dataset, context)
        return
    level = logging.getLogger().getEffectiveLevel()
    yield from Parallel(n_jobs=jobs, return_as="generator_unordered")(
        delayed(in_worker)(run, spec, dataset, context, level) for spec in pending)


def _hold(value: Any) -> Any:
    """The task that makes the prepared dataset a recomputable cluster-side value."""
    return value


def _run_dask(run, pending, dataset, context, jobs, scheduler) -> Iterator[Outcome]:
    from dask.distributed import Client, LocalCluster, as_completed

    logging.getLogger("distributed").setLevel(max(logging.WARNING, log.getEffectiveLevel()))
    gpu = torch.device(context.device).type == "cuda"
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                               resources={"GPU": 1} if gpu else None,
                               dashboard_address=None)
    try:
        client = Client(cluster if cluster is not None else scheduler)
    except OSError as err:  # unreachable scheduler: distributed raises OSError after its timeout
        if cluster is not None:
            cluster.close()
        from benchmark.grid import UsageError

        raise UsageError(f"--scheduler {scheduler or 'LocalCluster'}: cannot connect "
                         f"({err})") from None
    try:
        log.info("dask: %d run(s) on %s", len(pending),
                 scheduler or f"a LocalCluster of {jobs} worker(s)")
        with warnings.catch_warnings():  # "large object in task graph": intended, see above
            warnings.filterwarnings("ignore", message=".*[Ll]arge object.*")
            data = client.submit(_hold, dataset, pure=False,
                                 key=f"dataset-{getattr(dataset, 'name', 'data')}-{id(dataset)}")
        level = logging.getLogger().getEffectiveLevel()
        futures = {}
        for spec in pending:
            future = client.submit(in_worker, run, spec, data, context, level, pure=False,
                                   retries=TASK_RETRIES,
                                   resources={"GPU": 1} if gpu else None,
                                   key=f"run-{spec.dataset}-{spec.model}-seed{spec.seed}-"
                                       f"{spec.config_hash[:12]}")
            futures[future] = spec
        for future in as_completed(futures):
            spec = futures[future]
            try:
                yield future.result()
            except Exception as err:  # noqa: BLE001 - lost worker, unpicklable run, ...
                log.error("%s/%s seed %d failed on the cluster: %s", spec.dataset, spec.model,
                          spec.seed, err)
                yield spec, f"{type(err).__name__}: {err}"
    finally:
        if isinstance(sys.exc_info()[1], KeyboardInterrupt):
            _abandon(client, cluster)
        else:
            client.close()
            if cluster is not None:
                cluster.close()


def _abandon(client: Any, cluster: Any) -> None:
    """Close a client and LocalCluster whose workers benchmark.interrupt has already ended,
    without waiting on the dead processes, then end the workers the cluster started again to
    replace them (and keep Dask's exit hook from waiting on them)."""
    from distributed.deploy.spec import SpecCluster

    from benchmark.interrupt import stop_workers

    for part in (client, cluster):
        if part is not None:
            with contextlib.suppress(Exception):
                part.close(timeout=STOP_TIMEOUT)
    stop_workers()
    SpecCluster._instances.discard(cluster)
