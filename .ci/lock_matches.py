"""After `dvc repro` on a fresh clone: do the outputs equal the committed dvc.lock's?

The data stages (the embedded datasets) must: their bytes depend only on the seed and the pinned
versions. Every other stage is reported, not enforced: flow and training sum floats in an order
that can differ between processors (README, "What varies across machines").
"""

from __future__ import annotations

import subprocess
import sys

import yaml


def outs(lock: dict) -> dict[str, dict[str, str]]:
    return {stage: {o["path"]: o.get("md5", "") for o in entry.get("outs", [])}
            for stage, entry in lock.get("stages", {}).items()}


def main() -> int:
    committed = outs(yaml.safe_load(subprocess.run(["git", "show", "HEAD:dvc.lock"], check=True,
                                                   capture_output=True, text=True).stdout))
    with open("dvc.lock") as handle:
        now = outs(yaml.safe_load(handle))
    bad, same, other = [], 0, []
    for stage, paths in committed.items():
        for path, md5 in paths.items():
            got = now.get(stage, {}).get(path)
            if got == md5:
                same += 1
            elif stage.startswith("data@"):
                bad.append(f"{stage}: {path} is {got}, the commit says {md5}")
            else:
                other.append(f"{stage}: {path}")
    print(f"dvc.lock: {same} of {same + len(bad) + len(other)} outputs as committed")
    for line in other:
        print(f"  differs (float reductions on this processor?): {line}")
    for line in bad:
        print(f"  NOT REPRODUCED: {line}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
