"""After `dvc repro` on a fresh clone: do the outputs equal the committed dvc.lock's?

The stages up to the flow must: the embedded datasets, their frames and flow archives and the
code fingerprints depend only on the seed, the code and the pinned versions (archives are written
with fixed member times and order; torch-tvl1's fields are bit-identical across AVX2 and AVX-512).
The training and scoring stages are reported, not enforced: they sum floats in an order that can
differ between processors (docs/reproducing.md).
"""

from __future__ import annotations

import subprocess
import sys

import yaml


ENFORCED = ("data@", "frames@", "flow@", "fingerprints")


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
            elif stage.startswith(ENFORCED):
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
