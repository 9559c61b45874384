"""Training curves (dvclive) indexed by iteration, kept across a resumed training.

DVC would delete a stage's outs before rerunning it, so the curves' folder persists and this
class cleans it instead: a run that resumes from the checkpoint at iteration ``i`` keeps the
points up to ``i`` and appends the rest, so the curve reads as one uninterrupted run; a fresh
run starts an empty curve.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from dvclive import Live


class TrainingCurves:
    """What the training loop logs to: ``restart_at`` once, then ``log`` every few iterations."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.live = Live(str(folder), dvcyaml=False, save_dvc_exp=False, resume=True)

    def restart_at(self, iteration: int) -> None:
        """Keep the points logged up to ``iteration`` (0: none), drop what came after."""
        for tsv in (self.folder / "plots" / "metrics").glob("*.tsv"):
            rows = list(csv.DictReader(io.StringIO(tsv.read_text()), delimiter="\t"))
            kept = [r for r in rows if int(r["step"]) <= iteration]
            if not kept:
                tsv.unlink()
                continue
            out = io.StringIO()
            writer = csv.DictWriter(out, fieldnames=list(rows[0]), delimiter="\t",
                                    lineterminator="\n")
            writer.writeheader()
            writer.writerows(kept)
            tsv.write_text(out.getvalue())

    def log(self, iteration: int, metrics: dict[str, float]) -> None:
        self.live.step = iteration
        for name, value in metrics.items():
            self.live.log_metric(name, value)
        self.live.next_step()

    def end(self) -> None:
        self.live.end()
        # Its metrics.json repeats the last logged step (report makes the metrics); dropped so
        # that `dvc plots show` over metrics/train finds curves only.
        Path(self.live.metrics_file).unlink(missing_ok=True)
