"""The one base class of errors a user can fix: a param, a file, a folder, a full disk.

Entry points (every stage, ``twostream``) print such an error as one line naming the key or
file and the fix, and exit 2; a traceback is only for bugs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path


class UserError(Exception):
    """Something the user can put right; the message says what and how."""


def run_entry_point(main: Callable[[], object]) -> None:
    """Run a stage's ``main``: a :class:`UserError` becomes one line on stderr and exit code 2."""
    try:
        main()
    except UserError as err:
        print(f"{Path(sys.argv[0]).stem}: {err}", file=sys.stderr)
        raise SystemExit(2) from None
