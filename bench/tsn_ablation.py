"""TSN's components one at a time on real UCF-101 footage: the ablation table of TSN's paper.

    python bench/tsn_ablation.py                        # every row, splits 1 2 3
    python bench/tsn_ablation.py --rows paper segments  # some rows
    python bench/tsn_ablation.py --rows paper --svm-scores trainset out_of_fold held_out
    python bench/tsn_ablation.py --dry-run              # print the dvc commands only

Each row is one ``dvc exp run fuse@ucf101`` on ``presets/ucf101-real10.yaml`` (the real-footage
sizes) with the row's ``-S`` overrides: the paper's recipe, each TSN component added alone, and
the whole of ``presets/tsn.yaml``. Targeting ``fuse@ucf101`` runs only the fused pair's stages
(the spatial ``finetune`` net TSN fine-tunes, the temporal net, their test and training-video
scores, both fusions); a stage whose params a row leaves as another row had them comes back
from DVC's run cache instead of training again. Prints, and appends to bench/RESULTS.md, each
row's test accuracy per stream and fusion, per split and mean, and its wall time.

Every row is set on the committed params.yaml: the script refuses an edited one and puts it
back after each row (`dvc exp run` leaves a row's values in the workspace).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from twostream.config import SVM_SCORES  # noqa: E402
from twostream.evaluation.scores import load_scores, split_files  # noqa: E402
from twostream.evaluation.scores import accuracy  # noqa: E402
from twostream.presets import load_preset, preset_flags  # noqa: E402
from real10 import run_timed  # noqa: E402
from results import report  # noqa: E402

CROSS_MODALITY = {"temporal.init": "cross_modality", "temporal.backbone": "efficientnet_lite0"}
RGB_DIFF = {"stacking": "rgb_diff", "stack_length": 5, "mean_subtraction": False}


@dataclass(frozen=True)
class Row:
    """One line of the table: its label, its overrides on the paper's recipe, and a note on
    what it is built on where a component needs another."""
    name: str
    label: str
    values: dict[str, Any] = field(default_factory=dict)
    note: str = ""


PARTIAL_BN = ("spatial.partial_bn", "temporal.partial_bn")
TSN_LR_DROPOUT = ("spatial.lr", "temporal.lr", "table1a.dropouts", "dropout", "temporal.dropout")


def rows(tsn: dict[str, Any]) -> list[Row]:
    """The table's rows; TSN's values come from its preset, ``tsn``."""
    partial_bn = {k: tsn[k] for k in PARTIAL_BN}
    lr_dropout = {k: tsn[k] for k in TSN_LR_DROPOUT}
    on_cross_modality = "temporal on cross-modality pre-training"
    return [
        Row("paper", "the paper's recipe (spatial fine-tuned, temporal from scratch)"),
        Row("cross_modality", "+ cross-modality pre-training", dict(CROSS_MODALITY),
            "temporal only (the spatial net is already ImageNet's)"),
        Row("partial_bn", "+ partial BatchNorm, dropout 0.8 / 0.7, TSN's lr",
            partial_bn | lr_dropout | CROSS_MODALITY,
            f"{on_cross_modality}: CNN-M from scratch has no BatchNorm"),
        Row("corners_scales", "+ corner cropping and scale jittering",
            {"spatial.crops": "corners_scales", "temporal.crops": "corners_scales"}),
        Row("segments", "+ segmental consensus, K = 3", {"spatial.segments": 3, "temporal.segments": 3}),
        Row("weights", "+ weighted fusion 1 : 1.5", {"fusion.weights": [1.0, 1.5]}, "fusion only"),
        Row("rgb_diff", "RGB difference (L = 5) in place of flow",
            {"+table1b.rgb_diff5": RGB_DIFF, "fusion.temporal": "rgb_diff5"}),
        Row("tsn", "the whole TSN recipe (presets/tsn.yaml)", tsn),
        # Why partial BatchNorm did not help at this size: its parts apart, and longer.
        Row("partial_bn_only", "+ partial BatchNorm alone (the paper's lr and dropout)",
            partial_bn | CROSS_MODALITY, on_cross_modality),
        Row("tsn_lr", "+ TSN's lr and dropout alone (no partial BatchNorm)",
            lr_dropout | CROSS_MODALITY, on_cross_modality),
        Row("partial_bn_4x", "+ partial BatchNorm, dropout 0.8 / 0.7, TSN's lr, 4x the temporal "
            "iterations", partial_bn | lr_dropout | CROSS_MODALITY | {"temporal.schedule_scale": 0.012},
            f"{on_cross_modality}; 240 iterations instead of 60"),
        # params.yaml's partial_bn and lr apply where the row leaves them out
        Row("tsn_no_partial_bn", "the whole TSN recipe but partial BatchNorm and TSN's lr",
            {k: v for k, v in tsn.items() if k not in PARTIAL_BN + ("spatial.lr", "temporal.lr")}),
    ]


def fused_pair(values: dict[str, Any]) -> tuple[str, str]:
    """The folders under metrics/scores/ucf101 of the row's spatial and temporal nets."""
    return (f"spatial/{values['fusion.spatial']}-{values['dropout']}",
            f"temporal/{values['fusion.temporal']}")


def accuracies(folder: Path) -> dict[int, float]:
    """Test accuracy (%) per split of one scores folder."""
    out = {}
    for split, path in split_files(folder).items():
        _, labels, scores = load_scores(path).side("test")
        out[split] = 100 * accuracy(scores, labels)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", help="the clips' folder (default: the preset's folder.root)")
    parser.add_argument("--splits", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--rows", nargs="+", help="row names (default: all)")
    parser.add_argument("--svm-scores", nargs="+", default=["trainset"], choices=SVM_SCORES,
                        help="fusion.svm_scores values, each a run of every row (the nets come "
                             "back from the run cache after the first)")
    parser.add_argument("--cross-fits", type=int, default=3, help="fusion.cross_fits")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="more -S overrides for every row, after the row's")
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args(argv)
    base = load_preset(ROOT / "presets/ucf101-real10.yaml", ROOT)
    if args.root:
        base["folder.root"] = str(Path(args.root).resolve())
    base |= {"fusion.cross_fits": args.cross_fits, "run.splits": args.splits, "table1a.settings": ["finetune"], "table1a.dropouts": [0.5],
             "dropout": 0.5, "fusion.spatial": "finetune", "fusion.temporal": "flow10_sub"}
    table = rows(load_preset(ROOT / "presets/tsn.yaml", ROOT))
    by_name = {r.name: r for r in table}
    unknown = sorted(set(args.rows or ()) - set(by_name))
    if unknown:
        raise SystemExit(f"unknown rows {unknown}; rows: {', '.join(by_name)}")
    chosen = [by_name[n] for n in args.rows] if args.rows else table  # run in the order given
    if not args.dry_run and subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "params.yaml"],
                                           cwd=ROOT).returncode:
        raise SystemExit("params.yaml differs from the last commit: every row is set on the committed "
                         "params (commit or stash the change first)")
    results = []
    runs = [(row, mode) for row in chosen for mode in args.svm_scores]
    for row, mode in runs:
        values = base | row.values | {"fusion.svm_scores": mode}
        name = f"tsn-ablation-{row.name}" + ("" if mode == "trainset" else f"-{mode}")
        command = ["dvc", "exp", "run", "-n", name, "fuse@ucf101", *preset_flags(values)]  # +key: a new key
        for extra in args.set:
            command += ["-S", extra]
        print(" ".join(command), flush=True)
        if args.dry_run:
            continue
        log = ROOT / "tmp" / f"{name}.log"
        log.parent.mkdir(exist_ok=True)
        begin = time.perf_counter()
        run_timed(command, log)
        seconds = time.perf_counter() - begin
        # `dvc exp run` leaves the row's params in the workspace; the next row starts from HEAD's.
        subprocess.run(["git", "checkout", "HEAD", "--", "params.yaml"], cwd=ROOT, check=True)
        scores = ROOT / "metrics/scores/ucf101"
        spatial, temporal = fused_pair({k.lstrip("+"): v for k, v in values.items()})
        results.append((row, mode, seconds, {
            "spatial": accuracies(scores / spatial), "temporal": accuracies(scores / temporal),
            "fusion average": accuracies(scores / "fused/average"),
            "fusion svm": accuracies(scores / "fused/svm")}))
    if args.dry_run:
        return
    splits = args.splits
    lines = [f"### TSN's components one at a time on real UCF-101 footage, `ucf101-real10.yaml`, "
             f"splits {', '.join(map(str, splits))} ({datetime.date.today()})", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores, no GPU. `bench/tsn_ablation.py`: "
             f"each row `dvc exp run fuse@ucf101` with the row's `-S` values on the real-footage "
             f"preset; spatial = the `finetune` cell, temporal = `flow10_sub` unless the row says. "
             f"Test accuracy (%), mean of the splits (per split in brackets):", "",
             "| training setting | spatial | temporal | fusion average | fusion svm | wall s |",
             "|---|---|---|---|---|---|"]

    def cell(per_split: dict[int, float]) -> str:
        accs = [per_split[s] for s in splits if s in per_split]
        if not accs:
            return "-"
        return f"**{np.mean(accs):.1f}** ({' / '.join(f'{a:.1f}' for a in accs)})"

    for row, mode, seconds, accs in results:
        label = row.label + (f" [{row.note}]" if row.note else "")
        if mode != "trainset":
            label += f", SVM on {mode.replace('_', '-')} scores (fusion.cross_fits {args.cross_fits})"
        lines.append(f"| {label} | " + " | ".join(cell(accs[k]) for k in
                                                   ("spatial", "temporal", "fusion average", "fusion svm"))
                     + f" | {seconds:.0f} |")
    report(lines, append=not args.no_append)


if __name__ == "__main__":
    main()
