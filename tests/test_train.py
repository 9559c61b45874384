import pytest
import torch
from torch.utils.data import DataLoader

from twostream.config import SpatialParams
from twostream.models import build_model
from twostream.samples import BalancedBatches, SpatialTrainSet
from twostream.store import archive_name
from twostream.train import Checkpoint, lr_at, train_stream


def test_lr_schedule_steps_down_tenfold():
    assert [lr_at(i, 0.01, (50, 70)) for i in (0, 49, 50, 69, 70, 79)] == pytest.approx(
        [1e-2, 1e-2, 1e-3, 1e-3, 1e-4, 1e-4])


class _Killed(Exception):
    pass


def _run(tiny_archives, ckpt_path, kill_after=None):
    table, frames, _ = tiny_archives
    paths = [frames / archive_name(v) for v in table["id"]]
    labels = list(table["label"])
    params = SpatialParams(width=0.1, input_size=48, batch_size=4, iterations=6, lr_steps=(4,))
    data = SpatialTrainSet(paths, labels, input_size=48, jitter=0.1, seed=0)
    torch.manual_seed(0)
    model = build_model("cnn_m_2048", in_channels=3, num_classes=4, width=0.1, norm2=True,
                        dropout=0.5, input_size=48)

    def batches(start):
        for k, batch in enumerate(DataLoader(data, batch_sampler=BalancedBatches(labels, 4, 6, 0, start),
                                               generator=torch.Generator()), start):
            if kill_after is not None and k == kill_after:
                raise _Killed
            yield batch

    checkpoint = Checkpoint(ckpt_path, {"test": 1}, every=3)
    train_stream(model, batches, params, device=torch.device("cpu"), checkpoint=checkpoint)
    return model


def test_killed_training_resumes_to_the_same_model(tiny_archives, tmp_path):
    straight = _run(tiny_archives, tmp_path / "a.pt")
    with pytest.raises(_Killed):
        _run(tiny_archives, tmp_path / "b.pt", kill_after=4)  # dies after the iteration-3 checkpoint
    resumed = _run(tiny_archives, tmp_path / "b.pt")
    for (name, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items()):
        assert torch.allclose(a, b, atol=1e-6), name
