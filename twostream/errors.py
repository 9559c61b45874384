"""The one base class of errors a user can fix: a param, a file, a folder, a full disk.

Entry points (every stage, ``twostream``) print such an error as one line naming the key or
file and the fix, and exit 2; a traceback is only for bugs.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

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


def _process_start() -> float | None:
    """This process's start (seconds since the epoch), from /proc on Linux."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime"))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _record_timing(path: Path, entered: float) -> None:
    record = {"script": Path(sys.argv[0]).stem, "args": sys.argv[1:4], "started": _process_start(),
              "entered": entered, "ended": time.time()}
    with open(path, "a") as handle:
        handle.write(json.dumps(record) + "\n")
