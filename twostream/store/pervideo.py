"""Run one job per video over processes, resumably, without dying on one bad file.

A job whose target archive already carries the same ``recipe`` is skipped, so a killed stage
picks up where it stopped (DVC keeps the folder: the outs are ``persist: true``). Archives of
videos no longer in the table and leftover temp files are removed, so the folder always equals
what the current table and params make. Failures are collected into ``failures.json`` beside
the archives (video id -> reason) instead of stopping the stage; a job may also return a note
about a video it did process (e.g. a truncated file), collected into ``warnings.json``.

An error of the machine rather than the video (a full disk, a read-only or failing file system,
no memory) is not a bad video: it stops the stage with a :class:`MachineError` naming the disk
and the space needed, with no temp file left, so DVC records nothing and the next run redoes
exactly the videos it had not finished.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twostream.errors import UserError
from twostream.progress import progress
from twostream.store.zipstore import is_current

log = logging.getLogger(__name__)
FAILURES = "failures.json"
WARNINGS = "warnings.json"


@dataclass(frozen=True)
class Job:
    video_id: str
    source: Path
    target: Path
    recipe: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunSummary:
    done: int
    skipped: int
    failures: dict[str, str]
    warnings: dict[str, str] = field(default_factory=dict)
    elsewhere: list[str] = field(default_factory=list)  # being computed by another live run

    def finish(self, log: logging.Logger, what: str, out_dir: Path, total: int) -> None:
        """Log the outcome; stop the stage only if not a single video succeeded."""
        log.info("%s: computed %d, kept %d, failed %d (listed in %s), with warnings %d (%s)", what,
                 self.done, self.skipped, len(self.failures), out_dir / FAILURES,
                 len(self.warnings), out_dir / WARNINGS)
        if self.failures:
            log.warning("%s: the %d failed videos are left out of training; failed test videos "
                        "stay in every accuracy's denominator, counted as wrong", what,
                        len(self.failures))
        if total and len(self.failures) == total:
            raise UserError(f"{what}: every video failed; see {out_dir / FAILURES}")


# errno values that say "this machine", not "this video": the stage must fail, not file a bad video.
MACHINE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.ENOMEM, errno.EMFILE,
                  errno.ENFILE}


class MachineError(UserError, RuntimeError):
    """The stage cannot go on on this machine (disk full, ...); the message says what to do."""


# What OpenCV (cv::Error::StsNoMem) and PyTorch say when an allocation fails: out of memory is
# the machine's limit, not a bad video, and must stop the run.
OUT_OF_MEMORY = ("Failed to allocate", "Insufficient memory", "out of memory")


def is_machine_error(err: BaseException) -> bool:
    if isinstance(err, MemoryError) or type(err).__name__ == "OutOfMemoryError":
        return True
    if isinstance(err, OSError) and err.errno in MACHINE_ERRNOS:
        return True
    return type(err).__module__.startswith("cv2") and any(s in str(err) for s in OUT_OF_MEMORY)


def machine_error(err: BaseException, out_dir: Path, finished: Sequence[Path], left: int) -> MachineError:
    """A message naming the disk, its free space and about how much more the rest needs."""
    what = os.strerror(err.errno) if isinstance(err, OSError) and err.errno else type(err).__name__
    message = f"{out_dir}: {what} ({err})"
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        free = shutil.disk_usage(out_dir).free
        sizes = [size for size in map(output_size, finished) if size]
        need = (f"about {_mb(left * sum(sizes) / len(sizes))} more for the {left} videos left "
                f"({_mb(sum(sizes) / len(sizes))} each so far)" if sizes else
                f"{left} videos left (none finished yet to tell their size from)")
        message += f"; {_mb(free)} free on the disk holding it, {need}"
    return MachineError(f"{message}. Free space (or move the folder), then rerun: the finished "
                        f"videos are kept and only the rest are computed")


def output_size(path: Path) -> int:
    """Bytes of one video's output: an archive, or a folder of files (the denseflow layout)."""
    if path.is_file():
        return path.stat().st_size
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return 0


def _mb(size: float) -> str:
    return f"{size / 2**20:.1f} MB"


def _init_worker() -> None:
    import cv2

    cv2.setNumThreads(1)  # one process per core; OpenCV's own threads would oversubscribe


def _exit_with_parent(parent: int, every: float = 0.5) -> None:
    """Exit (at once, writing nothing more) when the process that started this one is gone: a
    parent killed with SIGKILL cannot stop its pool, whose workers would go on writing."""
    while os.getppid() == parent:
        time.sleep(every)
    os._exit(1)


def _init_pool_worker() -> None:
    """A pool worker: one core, for OpenCV and for PyTorch (torch-tvl1's compiled kernels),
    whose threads, one per core in each of one process per core, would oversubscribe; and it
    dies with its parent."""
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    _init_worker()
    os.environ["OMP_NUM_THREADS"] = "1"  # torch reads it when first imported here
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


Work = Callable[[Job], "str | None"]  # returns an optional note about the video
BUSY = "\0busy"  # a job's note when another live run holds its lock (left to that run)
LOCKS = ".twostream-locks"  # under the output folder: one lock file per video


def _lock(locks: Path, job: Job) -> Any:
    """An exclusive lock on ``job``'s video, held while the returned handle is open, or None
    when another live process holds it. The kernel drops a lock with its process, so a killed
    run's videos are free again at once."""
    locks.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha1(job.video_id.encode()).hexdigest()[:20]
    handle = open(locks / f"{digest}.lock", "a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def _guarded(work: Work, job: Job, locks: Path | None = None,
             done: Callable[[Job], bool] | None = None) -> tuple[str, str | None, str | None]:
    """Run one job; with ``locks``, only under its video's lock (another run that holds it is
    left to finish it: a BUSY note), rechecking ``done`` once the lock is held."""
    handle = _lock(locks, job) if locks is not None else None
    if locks is not None and handle is None:
        return job.video_id, None, BUSY
    try:
        if done is not None and done(job):  # finished by another run since this one looked
            return job.video_id, None, None
        return job.video_id, None, work(job)
    except Exception as err:  # noqa: BLE001 - one bad video must not stop the stage
        if is_machine_error(err):
            raise  # ... but a full disk must
        return job.video_id, f"{type(err).__name__}: {err}", None
    finally:
        if handle is not None:
            handle.close()


def _results(todo: Sequence[Job], work: Work, workers: int, locks: Path | None = None,
             done: Callable[[Job], bool] | None = None) -> Iterator[tuple[str, str | None, str | None]]:
    """(video id, error or None, note or None) per job, here or over a pool, as they finish."""
    if workers == 1:
        _init_worker()
        yield from (_guarded(work, job, locks, done) for job in todo)
        return
    # spawn, not fork: a forked child can deadlock in OpenCV's thread pool if the parent used it.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_pool_worker) as pool:
        futures = [pool.submit(_guarded, work, job, locks, done) for job in todo]
        try:
            yield from (future.result() for future in as_completed(futures))
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)  # the running ones end before cleanup
            raise


def remove_stale(out_dir: Path, keep: set[Path], keep_temp: bool = False,
                 temp_only: bool = False) -> int:
    """Delete archives not in ``keep`` (unless ``temp_only``) and temp files a killed run left."""
    removed = 0
    if not out_dir.is_dir():
        return 0
    for path in out_dir.rglob("*"):
        temp = ".tmp" in path.name and not keep_temp
        stale = path.suffix == ".zip" and path not in keep and not temp_only
        if path.is_file() and (temp or stale):
            path.unlink()
            removed += 1
    return removed


def _archive_is_current(job: Job) -> bool:
    return is_current(job.target, job.recipe)


def run_jobs(jobs: Sequence[Job], work: Work, out_dir: Path, workers: int, desc: str,
             shard: tuple[int, int] = (0, 1), report_suffix: str = "",
             failed_before: dict[str, str] | None = None, *,
             done: Callable[[Job], bool] = _archive_is_current, prune: bool = True,
             size: Callable[[Job], int] | None = None, unit: str = "video",
             shared: bool = False) -> RunSummary:
    """Run ``work`` for every job whose target is missing or stale; return what happened.

    With ``shard`` = (rank, world), only jobs rank, rank + world, ... are this process's, and
    only rank 0 removes stale files (the others' work in progress must not look stale).
    ``failed_before``: videos that cannot be done because an earlier stage failed them (id ->
    reason); they are filed as failures without running. ``done`` says whether a job's target
    is finished and current (default: its archive carries the job's recipe); ``prune`` False
    keeps files in ``out_dir`` that no job names (a folder the user shares with other runs).
    ``size`` weighs each job on the progress bar (e.g. its frame pairs), counted in ``unit``.
    ``shared``: other runs may write ``out_dir`` at the same time; each video is computed under
    a lock, and one another live run holds is left to it (``RunSummary.elsewhere``).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    rank, world = shard
    if rank == 0 and prune:
        removed = remove_stale(out_dir, {job.target for job in jobs},
                               keep_temp=world > 1)
        if removed:
            log.info("%s: removed %d stale files from %s", desc, removed, out_dir)
    jobs = list(jobs)[rank::world]
    todo = [job for job in jobs if not done(job)]
    skipped = len(jobs) - len(todo)
    if skipped:
        log.info("%s: %d of %d videos already done, resuming with the rest", desc, skipped, len(jobs))
    workers = min(workers or os.cpu_count() or 1, max(len(todo), 1))
    failures: dict[str, str] = {k: v for k, v in (failed_before or {}).items()
                                if k in {job.video_id for job in jobs}}
    todo = [job for job in todo if job.video_id not in failures]
    filed_before = len(failures)
    notes: dict[str, str] = {}
    finished: list[Path] = []
    elsewhere: list[str] = []
    by_id = {job.video_id: job for job in todo}
    weights = {job.video_id: size(job) if size else 1 for job in todo}
    with progress(total=sum(weights.values()), desc=desc, unit=unit) as bar:
        try:
            locks = out_dir / LOCKS if shared else None
            for video_id, error, note in _results(todo, work, workers, locks, done if shared else None):
                if note == BUSY:
                    elsewhere.append(video_id)
                    bar.update(weights[video_id])
                    continue
                if error:
                    failures[video_id] = error
                else:
                    finished.append(by_id[video_id].target)
                if note:
                    notes[video_id] = note
                bar.update(weights[video_id])
        except Exception as err:
            if not is_machine_error(err):
                raise
            if prune:  # (else the workers' own writers removed their temp files)
                remove_stale(out_dir, set(), temp_only=True)
            left = len(todo) - len(finished) - (len(failures) - filed_before) - len(elsewhere)
            raise machine_error(err, out_dir, finished, left) from None
    for video_id, error in sorted(failures.items()):
        log.warning("%s: %s failed: %s", desc, video_id, error)
    for video_id, note in sorted(notes.items()):
        log.warning("%s: %s: %s", desc, video_id, note)
    # Notes of videos kept from an earlier run stay listed until they are recomputed.
    failures_file = out_dir / FAILURES.replace(".json", f"{report_suffix}.json")
    warnings_file = out_dir / WARNINGS.replace(".json", f"{report_suffix}.json")
    old_notes = _read_json(warnings_file)
    kept = {job.video_id for job in jobs} - {job.video_id for job in todo}
    notes.update({k: v for k, v in old_notes.items() if k in kept})
    failures_file.write_text(json.dumps(failures, indent=1, sort_keys=True) + "\n")
    warnings_file.write_text(json.dumps(notes, indent=1, sort_keys=True) + "\n")
    if elsewhere:
        log.info("%s: %d videos left to another run writing %s: %s", desc, len(elsewhere), out_dir,
                 ", ".join(sorted(elsewhere)[:5]))
    return RunSummary(done=len(todo) - (len(failures) - filed_before) - len(elsewhere), skipped=skipped,
                      failures=failures, warnings=notes, elsewhere=sorted(elsewhere))


def read_failures(out_dir: Path) -> dict[str, str]:
    """The videos a stage filed as failed in ``out_dir`` (id -> reason), every rank's."""
    found: dict[str, str] = {}
    for path in sorted(out_dir.glob(FAILURES.replace(".json", "*.json"))):
        found.update(_read_json(path))
    return found


def _read_json(path: Path) -> dict[str, str]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
