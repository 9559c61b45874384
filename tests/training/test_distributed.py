"""Two torchrun ranks on gloo (CPU) train the model one process trains, and stay in sync."""

import os
import shutil
import subprocess
import sys

import pytest
import torch
import yaml

from conftest import REPO

pytestmark = pytest.mark.slow


def _train(project_params, tmp_path, frames, table_csv, out, ranks):
    cmd = ["stages/train.py", "spatial", "scratch-0.0", "--data", "ucf101", str(frames), str(table_csv),
           "--out", "ucf101", str(out / "model"), "--live", str(out / "live"),
           "--params", str(project_params), "--checkpoints", str(out / "ckpt")]
    if ranks > 1:
        runner = shutil.which("torchrun")
        launch = [runner] if runner else [sys.executable, "-m", "torch.distributed.run"]
        cmd = launch + ["--standalone", "--nproc_per_node", str(ranks)] + cmd
    else:
        cmd = [sys.executable] + cmd
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return torch.load(out / "model" / "split1.pt", weights_only=False), proc.stderr


def test_two_gloo_ranks_train_the_single_process_model(tiny_archives, tmp_path):
    from twostream.datasets.splits import save_table

    table, frames, _ = tiny_archives
    save_table(table, tmp_path / "splits.csv")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    # No dropout: masks are per rank, so only without it is the sum of the two half-batch
    # gradients the full-batch gradient of one process.
    params["table1a"]["dropouts"] = [0.0]
    params["dropout"] = 0.0
    params["spatial"].update({"width": 0.1, "input_size": 48, "batch_size": 8,
                              "schedule_scale": 0.0001, "rgb_jitter": 0.1})
    params["frames"]["short_side"] = 48
    params["temporal"]["input_size"] = 48
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    alone, _ = _train(path, tmp_path, frames, tmp_path / "splits.csv", tmp_path / "one", 1)
    pair, log = _train(path, tmp_path, frames, tmp_path / "splits.csv", tmp_path / "two", 2)
    assert "rank 1 of 2" in log and pair["world_size"] == 2 and alone["world_size"] == 1
    for name, value in alone["state_dict"].items():
        assert torch.allclose(value, pair["state_dict"][name], rtol=1e-3, atol=1e-4), name
