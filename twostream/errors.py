"""The one base class of errors a user can fix: a param, a file, a folder, a full disk.

Entry points (every stage, ``twostream``) print such an error as one line naming the key or
file and the fix, and exit 2; a traceback is only for bugs.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

TIMING_ENV = "TWOSTREAM_TIMING"  # a file: each stage process appends when it started, entered main, ended


class UserError(Exception):
    """Something the user can put right; the message says what and how."""


def run_entry_point(main: Callable[[], object]) -> None:
    """Run a stage's ``main``: a :class:`UserError` becomes one line on stderr and exit code 2.

    With ``TWOSTREAM_TIMING`` set to a file, one JSON line is appended per process: when the
    process started, when its imports were done (``main`` entered) and when it ended, which is
    how ``bench/timing.py`` splits a run into start-up and work."""
    entered = time.time()
    try:
        main()
    except UserError as err:
        print(f"{Path(sys.argv[0]).stem}: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    finally:
        if os.environ.get(TIMING_ENV):
            _record_timing(Path(os.environ[TIMING_ENV]), entered)


def run_stage(main: Callable[[], object]) -> NoReturn:
    """A stage script's ``__main__``: :func:`run_entry_point`, then :func:`end_process` with its
    exit status (a bug's exception still ends the normal way, with its traceback)."""
    try:
        run_entry_point(main)
    except SystemExit as exit_:
        end_process(exit_.code)
    end_process(0)


def end_process(code: object = 0) -> NoReturn:
    """End the process as ``sys.exit(code)`` would, without tearing the interpreter down.

    Once a stage's outputs are written, Python's teardown (clearing every module, then
    PyTorch's own destructors) costs a process with torch loaded about half a second, in each
    of a pipeline's ~50 stage processes. What an exit must still do is done here:
    threads that are not daemons are joined, ``atexit`` handlers run (logging's flush,
    multiprocessing's clean-up), the standard streams are flushed. What is skipped are object
    finalizers, which no output may rely on (every file is closed where it is written)."""
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # sys.exit("message"): the message on stderr, status 1
        print(code, file=sys.stderr)
        status = 1
    # The interpreter's own first steps, in its order: threading's exit hooks (they stop the
    # manager threads of executors left open, concurrent.futures' and joblib's) and the join of
    # every non-daemon thread, then the atexit handlers.
    threading._shutdown()  # type: ignore[attr-defined]
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing left to say
            pass
    os._exit(status)


def _process_start() -> float | None:
    """This process's start (seconds since the epoch), from /proc on Linux: its age (uptime
    less its start tick) taken from now. (The boot time /proc/stat gives is rounded to whole
    seconds and drifts from the wall clock, which put up to a second of DVC's time into
    each stage's start-up.)"""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return time.time() - (uptime - ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return None


def _record_timing(path: Path, entered: float) -> None:
    record = {"script": Path(sys.argv[0]).stem, "args": sys.argv[1:4], "started": _process_start(),
              "entered": entered, "ended": time.time()}
    with open(path, "a") as handle:
        handle.write(json.dumps(record) + "\n")
