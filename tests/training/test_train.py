import pytest
import torch
from torch.utils.data import DataLoader

from twostream.config import Schedule
from twostream.models import build_model
from twostream.inputs.sampler import BalancedBatches
from twostream.inputs.train_sets import SpatialTrainSet
from twostream.store.zipstore import archive_name
from twostream.training.train import Checkpoint, Recipe, lr_at, train_stream

from conftest import repo_block


def test_lr_schedule_steps_down_tenfold():
    assert [lr_at(i, 0.01, (50, 70)) for i in (0, 49, 50, 69, 70, 79)] == pytest.approx(
        [1e-2, 1e-2, 1e-3, 1e-3, 1e-4, 1e-4])


class _Killed(Exception):
    pass


def _run(tiny_archives, ckpt_path, kill_after=None, live=None):
    table, frames, _ = tiny_archives
    paths = [frames / archive_name(v) for v in table["id"]]
    labels = list(table["label"])
    params = repo_block("spatial", width=0.1, input_size=48, batch_size=4)
    data = SpatialTrainSet(paths, labels, input_size=48, jitter=0.1, seed=0)
    torch.manual_seed(0)
    model, _ = build_model("cnn_m_2048", in_channels=3, num_classes=4, width=0.1, norm2=True,
                           dropout=0.5, input_size=48)

    def batches(start):
        for k, batch in enumerate(DataLoader(data, batch_sampler=BalancedBatches(labels, 4, 6, 0, start),
                                               generator=torch.Generator()), start):
            if kill_after is not None and k == kill_after:
                raise _Killed
            yield batch

    checkpoint = Checkpoint(ckpt_path, {"test": 1}, every=3)
    train_stream(model, batches, Recipe(params, Schedule(6, (4,))), device=torch.device("cpu"),
                 checkpoint=checkpoint, live=live, log_every=1)
    return model


def test_killed_training_resumes_to_the_same_model(tiny_archives, tmp_path):
    straight = _run(tiny_archives, tmp_path / "a.pt")
    with pytest.raises(_Killed):
        _run(tiny_archives, tmp_path / "b.pt", kill_after=4)  # dies after the iteration-3 checkpoint
    resumed = _run(tiny_archives, tmp_path / "b.pt")
    for (name, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items()):
        assert torch.allclose(a, b, atol=1e-6), name


def test_a_resumed_training_continues_its_curve(tiny_archives, tmp_path):
    """The dvclive curve of a killed and resumed run keeps the points before the checkpoint and
    reads as one run (it used to restart at 0); a fresh run starts it anew."""
    from twostream.training.curves import TrainingCurves

    def steps(folder):
        lines = (folder / "plots" / "metrics" / "loss.tsv").read_text().splitlines()[1:]
        return [int(line.split("\t")[0]) for line in lines]

    folder = tmp_path / "live"
    with pytest.raises(_Killed):
        _run(tiny_archives, tmp_path / "b.pt", kill_after=4, live=TrainingCurves(folder))
    assert steps(folder) == [1, 2, 3, 4]  # logged up to the kill; the checkpoint is at 3
    curves = TrainingCurves(folder)
    _run(tiny_archives, tmp_path / "b.pt", live=curves)
    curves.end()
    assert steps(folder) == [1, 2, 3, 4, 5, 6]
    assert not (folder / "metrics.json").exists()
    again = TrainingCurves(folder)
    _run(tiny_archives, tmp_path / "fresh.pt", live=again)  # no checkpoint: a new curve
    assert steps(folder) == [1, 2, 3, 4, 5, 6]


def test_last_layer_training_changes_only_the_class_layer(tiny_archives, tmp_path):
    table, frames, _ = tiny_archives
    paths = [frames / archive_name(v) for v in table["id"]]
    labels = list(table["label"])
    data = SpatialTrainSet(paths, labels, input_size=48, jitter=0.1, seed=0)
    model, _ = build_model("resnet18", in_channels=3, num_classes=4, width=1, norm2=True,
                           dropout=0.5, input_size=48)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    batches = lambda start: DataLoader(data, batch_sampler=BalancedBatches(labels, 4, 3, 0, start))
    train_stream(model, batches, Recipe(repo_block("spatial", batch_size=4), Schedule(3, ()), last_layer_only=True),
                 device=torch.device("cpu"), checkpoint=Checkpoint(tmp_path / "c.pt", {}, every=10))
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert changed == {"net.fc.1.weight", "net.fc.1.bias"}  # BatchNorm statistics held too
