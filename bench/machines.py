"""What differs between two runs of the pipeline, stage by stage: on two machines, or here with
one run on another processor's code paths (bench/other_cpu.sh).

    git clone . /tmp/avx2 && (cd /tmp/avx2 && bash ../main/bench/other_cpu.sh dvc repro)
    python bench/machines.py . /tmp/avx2 --labels "this CPU" "AVX2 paths"

For each part: whether the generated videos are byte-identical, how many frame archives are,
how far the flow fields are apart (share of 8-bit codes that differ, mean |difference| in px),
and for the tables the largest and mean absolute difference over every cell of
metrics/summary.json, and the cells that differ most. Prints a table and appends it to
bench/RESULTS.md (--no-append to skip).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np

from results import report
from twostream.store.flow_jpeg import code_step

PARTS = ("ucf101", "hmdb51")


def _digest(path: Path) -> str:
    return hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()


def same_files(a: Path, b: Path, pattern: str) -> tuple[int, int]:
    """(identical, compared) files matching ``pattern`` under both folders."""
    names = sorted(p.relative_to(a) for p in a.rglob(pattern) if p.is_file())
    both = [n for n in names if (b / n).is_file()]
    return sum(_digest(a / n) == _digest(b / n) for n in both), len(both)


def same_images(a: Path, b: Path) -> tuple[int, int]:
    """(archives whose JPEG members are all identical, archives compared): the metadata may
    differ (it records the code's fingerprint) while the frames do not."""
    same = both = 0
    for path in sorted(a.rglob("*.zip")):
        other = b / path.relative_to(a)
        if not other.is_file():
            continue
        both += 1
        with zipfile.ZipFile(path) as za, zipfile.ZipFile(other) as zb:
            names = sorted(n for n in za.namelist() if n.endswith(".jpg"))
            same += names == sorted(n for n in zb.namelist() if n.endswith(".jpg")) and all(
                za.read(n) == zb.read(n) for n in names)
    return same, both


def flow_difference(a: Path, b: Path) -> tuple[float, float, int]:
    """(share of codes that differ, mean |difference| px, fields compared) over every field."""
    import cv2

    differing = total = 0
    absolute = 0.0
    fields = 0
    for path in sorted(a.rglob("*.zip")):
        other = b / path.relative_to(a)
        if not other.is_file():
            continue
        with zipfile.ZipFile(path) as za, zipfile.ZipFile(other) as zb:
            bound = json.loads(za.read("meta.json"))["bound"]
            for name in za.namelist():
                if not name.endswith(".jpg") or name not in zb.namelist():
                    continue
                x = cv2.imdecode(np.frombuffer(za.read(name), np.uint8), cv2.IMREAD_GRAYSCALE)
                y = cv2.imdecode(np.frombuffer(zb.read(name), np.uint8), cv2.IMREAD_GRAYSCALE)
                delta = np.abs(x.astype(np.int16) - y.astype(np.int16))
                differing += int((delta > 0).sum())
                total += delta.size
                absolute += float(delta.sum()) * code_step(bound)
                fields += 1
    return (differing / total if total else float("nan"),
            absolute / total if total else float("nan"), fields // 2)


def flat(summary: dict, prefix: str = "") -> dict[str, float]:
    out = {}
    for key, value in summary.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flat(value, f"{name}."))
        elif isinstance(value, (int, float)):
            out[name] = float(value)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("first", type=Path, help="a workspace after `dvc repro`")
    parser.add_argument("second", type=Path, help="another one")
    parser.add_argument("--labels", nargs=2, default=None)
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args()
    labels = args.labels or [str(args.first), str(args.second)]
    lines = [f"### one pipeline, two runs: {labels[0]} vs {labels[1]} ({datetime.date.today()})",
             "", "| part | videos identical | frame archives identical | flow codes differing | "
             "flow mean abs diff (px) |", "|---|---|---|---|---|"]
    for part in PARTS:
        a, b = args.first / "data" / part, args.second / "data" / part
        videos = same_files(a / "raw", b / "raw", "*.avi")
        frames = same_images(a / "frames", b / "frames")
        share, mean_px, fields = flow_difference(a / "flow", b / "flow")
        lines.append(f"| {part} | {videos[0]} / {videos[1]} | {frames[0]} / {frames[1]} | "
                     f"{100 * share:.2f}% of {fields} fields | {mean_px:.4f} |")
    first, second = (flat(json.loads((w / "metrics" / "summary.json").read_text()))
                     for w in (args.first, args.second))
    cells = sorted(set(first) & set(second))
    diffs = {c: second[c] - first[c] for c in cells}
    changed = {c: d for c, d in diffs.items() if abs(d) > 1e-9}
    values = np.abs(np.array(list(diffs.values()))) if diffs else np.zeros(1)
    lines += ["", f"Tables (metrics/summary.json, accuracy in %): {len(changed)} of {len(cells)} "
              f"cells differ; largest |difference| {values.max():.1f}, mean {values.mean():.1f}."]
    worst = sorted(changed.items(), key=lambda kv: -abs(kv[1]))[:8]
    if worst:
        lines.append("Most changed: " + ", ".join(f"{c} {first[c]:.1f} -> {second[c]:.1f}"
                                                  for c, _ in worst) + ".")
    report(lines, append=not args.no_append)


if __name__ == "__main__":
    main()
