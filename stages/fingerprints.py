"""Stage `fingerprints`: for each stage script, the project files it runs and their code's
fingerprints (comments and docstrings left out), one JSON file per script.

    python stages/fingerprints.py stages fingerprints

The other stages depend on their script's file here rather than on source folders: an edit
reruns exactly the stages whose code it changes, and a comment or docstring edit reruns none.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from twostream.errors import run_stage
from twostream.store.fingerprint import stage_code


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stages_dir", type=Path, help="the stage scripts")
    parser.add_argument("out_dir", type=Path, help="<script>.json per stage script (out)")
    args = parser.parse_args(argv)
    root = args.stages_dir.resolve().parent
    args.out_dir.mkdir(parents=True, exist_ok=True)
    scripts = sorted(p for p in args.stages_dir.glob("*.py") if p.name != Path(__file__).name)
    for old in args.out_dir.glob("*.json"):
        if old.stem not in {s.stem for s in scripts}:
            old.unlink()
    for script in scripts:
        code = stage_code(script.resolve(), root)
        (args.out_dir / f"{script.stem}.json").write_text(json.dumps(code, indent=1) + "\n")


if __name__ == "__main__":
    run_stage(main)
