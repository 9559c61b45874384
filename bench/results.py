"""Shared by the benchmarks: print a result table and append it to bench/RESULTS.md."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def report(lines: list[str], append: bool) -> None:
    table = "\n".join(lines) + "\n"
    print(table)
    if append:
        with open(RESULTS, "a") as handle:
            handle.write("\n" + table)
