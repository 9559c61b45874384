"""Multi-task heads: stacked class-layer rows behave as separate per-dataset softmax heads."""

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from twostream.training.tasks import Head, Heads, batch_pools, class_layer_key, rows_of, without_class_layer

HEADS = Heads((Head("ucf101", ("a", "b", "c"), 0), Head("hmdb51", ("x", "y"), 3)))


def test_loss_is_the_sum_of_each_heads_loss_on_its_own_samples():
    torch.manual_seed(0)
    features = torch.randn(6, 8)
    layer = nn.Linear(8, 5)
    labels = torch.tensor([0, 2, 3, 4, 1, 4])  # rows 3, 4 are hmdb51 classes x, y
    ucf, hmdb = labels < 3, labels >= 3
    logits = layer(features)
    expected = (F.cross_entropy(logits[ucf, :3], labels[ucf])
                + F.cross_entropy(logits[hmdb, 3:], labels[hmdb] - 3))
    assert HEADS.loss(logits, labels).item() == pytest.approx(expected.item())
    # an hmdb51-only batch teaches the ucf101 head nothing
    HEADS.loss(layer(features[hmdb]), labels[hmdb]).backward()
    assert torch.count_nonzero(layer.weight.grad[:3]) == 0 and torch.count_nonzero(layer.weight.grad[3:]) > 0


def test_predictions_stay_inside_each_samples_own_head():
    logits = torch.tensor([[0.0, 1.0, 0.0, 9.0, 0.0], [5.0, 0.0, 0.0, 0.0, 1.0]])
    assert HEADS.predict(logits, torch.tensor([0, 3])).tolist() == [1, 4]


def test_one_heads_model_is_the_trunk_and_its_rows():
    net = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 5))
    key = class_layer_key(net)
    assert key == "2"
    hmdb = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2))
    hmdb.load_state_dict(rows_of(net.state_dict(), key, 3, 5))
    x = torch.randn(3, 4)
    assert torch.allclose(hmdb(x), net(x)[:, 3:5])
    assert set(without_class_layer(net.state_dict(), key)) == {"0.weight", "0.bias"}


def test_batches_mix_the_datasets_by_the_ratio():
    pools = batch_pools(HEADS, {"ucf101": 0.75, "hmdb51": 0.25}, 32)
    assert [(list(classes), n) for classes, n in pools] == [([0, 1, 2], 24), ([3, 4], 8)]
    with pytest.raises(ValueError, match="too small"):
        batch_pools(HEADS, {"ucf101": 0.5, "hmdb51": 0.99}, 1)


def test_one_head_is_plain_cross_entropy_and_argmax():
    one = Heads((Head("ucf101", ("a", "b", "c", "d"), 0),))
    logits = torch.randn(6, 4, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 3, 1, 2, 2, 0])
    assert torch.allclose(one.loss(logits, labels), torch.nn.functional.cross_entropy(logits, labels))
    assert torch.equal(one.predict(logits, labels), logits.argmax(1))
