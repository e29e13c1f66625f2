"""Where independent training jobs (a run's folds, a search's trials) run: ``local`` processes or ``ray`` tasks.

An engine calls ``work(job, shared)`` once per job, where ``shared`` is the data every job reads (a
dataset's trials), sent to each worker once: local worker processes get it when they start, Ray
puts it in the object store once and every task reads it from there. A job that fails in a way
another attempt can fix (its worker process died or was killed, memory ran out) is tried again, up
to ``retries`` more times; one that still fails is reported by name in its ``Outcome``. Any other
exception (bad data, bad settings) is the caller's, raised at once. Each attempt is recorded in the
job's folder (``attempt.json``: which attempt, which host and process), so a run can be watched and
a stuck worker found. Results never depend on the engine: every job seeds itself and reads the same
data.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tqdm.auto import tqdm

from models.files import atomic_write_json

ATTEMPT_FILE = "attempt.json"
ENGINES = ("local", "ray")


@dataclass(frozen=True)
class Job:
    """One unit of work: a name to report it by, the folder its results land in, and what ``work`` needs."""

    name: str
    folder: Path
    payload: Any


@dataclass
class Outcome:
    """How a job ended: ``result`` is what ``work`` returned; ``error`` is set (and result None) when it failed."""

    job: Job
    result: Any = None
    error: str = ""
    attempts: int = 0
    seconds: float = 0.0


Work = Callable[[Job, Any], Any]
#: What a running job is doing, for the progress line (e.g. "epoch 3/20"); "" when it has not started.
Describe = Callable[[Job], str]


class Engine(Protocol):
    """Runs jobs, retrying those whose failure another attempt can fix; returns outcomes in job order."""

    name: str

    def run(self, work: Work, jobs: Sequence[Job], shared: Any, label: str,
            describe: Describe | None = None) -> list[Outcome]: ...


class JobsFailed(RuntimeError):
    """Jobs that still failed after every attempt; the caller has kept what the others produced (``metrics``: the
    report of the finished ones, when there is one)."""

    def __init__(self, failed: list[Outcome], total: int, metrics: dict[str, Any] | None = None) -> None:
        self.failed, self.metrics = failed, metrics
        names = "; ".join(f"{o.job.name} ({o.error}, {o.attempts} attempts)" for o in failed)
        super().__init__(f"{len(failed)} of {total} jobs failed: {names}")


def attempts_made(folder: Path) -> int:
    """How many times a job was started in ``folder`` (its ``attempt.json``; 0 when never)."""
    try:
        return int(json.loads((folder / ATTEMPT_FILE).read_text())["attempt"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def attempt(work: Work, job: Job, shared: Any, engine: str) -> tuple[Any, float]:
    """Run one attempt of ``job`` (in whichever process the engine chose), recording it first."""
    job.folder.mkdir(parents=True, exist_ok=True)
    atomic_write_json(job.folder / ATTEMPT_FILE, {
        "attempt": attempts_made(job.folder) + 1, "engine": engine, "host": socket.gethostname(), "pid": os.getpid(),
        "started": time.time()})
    t0 = time.perf_counter()
    result = work(job, shared)
    return result, time.perf_counter() - t0


def retryable(exc: BaseException) -> bool:
    """A failure another attempt may not repeat: memory ran out (host or accelerator) or the worker died."""
    if isinstance(exc, MemoryError | BrokenProcessPool):
        return True
    import torch

    return isinstance(exc, torch.OutOfMemoryError)


def _progress(bar: Any, jobs: Sequence[Job], describe: Describe | None, done: set[str]) -> None:
    if describe is None:
        return
    running = [f"{j.name} {text}" for j in jobs if j.name not in done and (text := describe(j))]
    bar.set_postfix_str(", ".join(running)[:120], refresh=True)


# ----------------------------------------------------------------------------------------------- local

_shared: Any = None


def _start_local_worker(shared: Any, threads: int) -> None:
    """In a local worker process: keep the shared data; torch gets this worker's share of the cores."""
    global _shared
    import torch

    torch.set_num_threads(threads)
    _shared = shared


def _local_attempt(work: Work, job: Job) -> tuple[Any, float]:
    return attempt(work, job, _shared, "local")


@dataclass
class LocalEngine:
    """This process (``workers`` 1) or ``workers`` spawned processes on this machine, one job at a time each."""

    workers: int = 1
    retries: int = 2
    threads: int = 0  # torch threads per worker process; 0 = this machine's cores / workers
    name: str = field(default="local", init=False)

    def run(self, work: Work, jobs: Sequence[Job], shared: Any, label: str,
            describe: Describe | None = None) -> list[Outcome]:
        outcomes = {j.name: Outcome(j) for j in jobs}
        with tqdm(total=len(jobs), desc=label, disable=None) as bar:
            if self.workers <= 1 or len(jobs) <= 1:
                for job in jobs:
                    self._in_process(work, job, shared, outcomes[job.name])
                    bar.update()
            else:
                self._in_pool(work, jobs, shared, outcomes, bar, describe)
        return [outcomes[j.name] for j in jobs]

    def _in_process(self, work: Work, job: Job, shared: Any, outcome: Outcome) -> None:
        base = attempts_made(job.folder)  # attempts of earlier runs do not count
        while True:
            try:
                outcome.result, outcome.seconds = attempt(work, job, shared, self.name)
                outcome.attempts = attempts_made(job.folder) - base
                return
            except Exception as exc:
                outcome.attempts = attempts_made(job.folder) - base
                if not retryable(exc):
                    raise
                if outcome.attempts > self.retries:
                    outcome.error = f"{type(exc).__name__}: {exc}"
                    return

    def _in_pool(self, work: Work, jobs: Sequence[Job], shared: Any, outcomes: dict[str, Outcome], bar: Any,
                 describe: Describe | None) -> None:
        import multiprocessing

        remaining = list(jobs)
        base = {j.name: attempts_made(j.folder) for j in jobs}  # attempts of earlier runs do not count
        failures = dict.fromkeys(base, 0)
        n = min(self.workers, len(jobs))
        threads = self.threads or max(1, (os.cpu_count() or 1) // n)
        while remaining:  # one pool per round: a worker that dies breaks its pool, and the rest go to a new one
            broken: list[Job] = []
            workers: dict[int, Any] = {}
            starts = {j.name: attempts_made(j.folder) for j in remaining}
            with ProcessPoolExecutor(min(n, len(remaining)), mp_context=multiprocessing.get_context("spawn"),
                                     initializer=_start_local_worker, initargs=(shared, threads)) as pool:
                futures: dict[Future[tuple[Any, float]], Job] = {pool.submit(_local_attempt, work, j): j
                                                                  for j in remaining}
                remaining = []
                pending = set(futures)
                while pending:
                    workers |= getattr(pool, "_processes", None) or {}  # to tell the dead worker from the stopped
                    finished, pending = wait(pending, timeout=2.0, return_when=FIRST_COMPLETED)
                    for future in finished:
                        job = futures[future]
                        outcomes[job.name].attempts = attempts_made(job.folder) - base[job.name]
                        try:
                            outcomes[job.name].result, outcomes[job.name].seconds = future.result()
                            bar.update()
                        except BrokenProcessPool:
                            broken.append(job)
                        except Exception as exc:
                            if not retryable(exc):
                                for other in pending:
                                    other.cancel()
                                raise
                            failures[job.name] += 1
                            self._again_or_fail(job, outcomes[job.name], exc, failures, remaining, bar)
                    _progress(bar, jobs, describe, {n for n, o in outcomes.items() if o.result is not None})
            for job in broken:  # the pool has stopped its workers now; their exit codes say which one died
                outcome = outcomes[job.name]
                if _died(job.folder, workers, started_after=starts[job.name]):
                    failures[job.name] += 1
                    self._again_or_fail(job, outcome, BrokenProcessPool(f"worker process died ({job.name})"),
                                        failures, remaining, bar)
                else:
                    remaining.append(job)  # not started, or stopped because another worker died: not its failure

    def _again_or_fail(self, job: Job, outcome: Outcome, exc: BaseException, failures: dict[str, int],
                       remaining: list[Job], bar: Any) -> None:
        if failures[job.name] > self.retries:
            outcome.error = f"{type(exc).__name__}: {exc}"
            bar.update()
        else:
            remaining.append(job)


def _died(folder: Path, workers: dict[int, Any], started_after: int) -> bool:
    """Whether the job in ``folder`` started in this pool (after ``started_after`` earlier starts) in a worker
    that died by itself: killed or crashed, not stopped by the pool (SIGTERM) after another worker died."""
    try:
        marker = json.loads((folder / ATTEMPT_FILE).read_text())
    except (OSError, ValueError):
        return False
    if int(marker.get("attempt", 0)) <= started_after:
        return False
    process = workers.get(int(marker.get("pid", -1)))
    return process is None or process.exitcode != -signal.SIGTERM


# ------------------------------------------------------------------------------------------------- ray


def import_ray() -> Any:
    """``ray``, imported so that it leaves this process's ``print`` alone (Ray's progress bars would otherwise
    replace ``builtins.print`` in the driver) and sends no usage report unless the user asked for one."""
    os.environ.setdefault("RAY_TQDM_PATCH_PRINT", "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    return ray


def _ray_attempt(work: Work, job: Job, shared: Any, threads: int) -> tuple[Any, float]:
    """A Ray task: one attempt of ``job`` with the task's share of CPU threads."""
    import torch

    torch.set_num_threads(max(1, threads))
    return attempt(work, job, shared, "ray")


@dataclass
class RayEngine:
    """One Ray task per job with its CPU/GPU request; the shared data is put in the object store once.

    ``address``: "" starts a local Ray instance (or uses the one this process already joined), ``auto``
    joins the cluster started on this machine with ``ray start``, ``ray://HOST:PORT`` a remote one.
    Ray retries a task whose worker died (``max_retries``) and one that ran out of memory."""

    address: str = ""
    fold_cpus: float = 1.0
    fold_gpus: float = 0.0
    retries: int = 2
    name: str = field(default="ray", init=False)

    def run(self, work: Work, jobs: Sequence[Job], shared: Any, label: str,
            describe: Describe | None = None) -> list[Outcome]:
        import torch

        ray = import_ray()
        started_here = not ray.is_initialized()
        if started_here:
            ray.init(address=self.address or None, include_dashboard=False, log_to_driver=False)
        try:
            shared_ref = ray.put(shared)
            task = ray.remote(_ray_attempt).options(
                num_cpus=self.fold_cpus, num_gpus=self.fold_gpus, max_retries=self.retries,
                retry_exceptions=[MemoryError, torch.OutOfMemoryError])
            threads = max(1, int(self.fold_cpus))
            base = {j.name: attempts_made(j.folder) for j in jobs}  # attempts of earlier runs do not count
            refs = {task.remote(work, job, shared_ref, threads): job for job in jobs}
            return self._collect(refs, base, jobs, label, describe)
        finally:
            if started_here:
                ray.shutdown()

    def _collect(self, refs: dict[Any, Job], base: dict[str, int], jobs: Sequence[Job], label: str,
                 describe: Describe | None) -> list[Outcome]:
        import torch

        ray = import_ray()
        from ray.exceptions import NodeDiedError, OutOfMemoryError, WorkerCrashedError

        outcomes = {j.name: Outcome(j) for j in jobs}
        pending = list(refs)
        with tqdm(total=len(jobs), desc=f"{label} (ray)", disable=None) as bar:
            try:
                while pending:
                    finished, pending = ray.wait(pending, num_returns=1, timeout=2.0)
                    for ref in finished:
                        job = refs[ref]
                        outcome = outcomes[job.name]
                        try:
                            outcome.result, outcome.seconds = ray.get(ref)
                        except (WorkerCrashedError, NodeDiedError, OutOfMemoryError, MemoryError,
                                torch.OutOfMemoryError) as exc:
                            outcome.error = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
                        outcome.attempts = attempts_made(job.folder) - base[job.name]
                        bar.update()
                    _progress(bar, jobs, describe, {n for n, o in outcomes.items() if o.result is not None})
            finally:
                for ref in pending:  # an error or Ctrl-C: stop what is still running
                    ray.cancel(ref, force=True)
        return [outcomes[j.name] for j in jobs]


def make_engine(name: str, workers: int = 1, retries: int = 2, address: str = "", fold_cpus: float = 1.0,
                fold_gpus: float = 0.0) -> Engine:
    """The engine a command line asked for (``--engine local|ray`` and its options)."""
    if name == "local":
        return LocalEngine(workers=max(1, workers), retries=retries)
    if name == "ray":
        if fold_cpus <= 0 or fold_gpus < 0:
            raise ValueError(f"--fold-cpus must be > 0 and --fold-gpus >= 0 (got {fold_cpus}, {fold_gpus})")
        return RayEngine(address=address, fold_cpus=fold_cpus, fold_gpus=fold_gpus, retries=retries)
    raise ValueError(f"unknown engine {name!r}; choose from {', '.join(ENGINES)}")
