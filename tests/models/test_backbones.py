import pytest
import torch
from torch import nn

from twostream.models import build_model
from twostream.models.backbones import (class_layer, freeze_all_but_class_layer, hold_batchnorm,
                                        imagenet_shaped, set_input_channels, stem)

from conftest import repo_block


@pytest.mark.parametrize("arch", ["cnn_m_2048", "resnet18", "resnet50", "vgg16", "efficientnet_lite0"])
def test_every_backbone_makes_both_streams(arch):
    spatial, _ = build_model(arch, in_channels=3, num_classes=7, width=0.25, norm2=True,
                             dropout=0.9, input_size=64)
    temporal, _ = build_model(arch, in_channels=20, num_classes=7, width=0.25, norm2=False,
                              dropout=0.9, input_size=64)
    assert spatial(torch.zeros(2, 3, 64, 64)).shape == (2, 7)
    assert temporal(torch.zeros(2, 20, 64, 64)).shape == (2, 7)
    assert stem(temporal).weight.shape[1] == 20 and class_layer(temporal).out_features == 7
    rates = {m.p for m in spatial.modules() if isinstance(m, nn.Dropout)}
    assert rates == {0.9}, rates  # every dropout of the net is the cell's (ResNets get one)


def test_cross_modality_conv1_is_the_rgb_mean_replicated():
    net = imagenet_shaped("resnet18", width=1.0, input_size=64, norm2=True)
    rgb = stem(net).weight.detach().clone()
    set_input_channels(net, 10, from_rgb=True)
    weight = stem(net).weight
    assert weight.shape == (rgb.shape[0], 10, *rgb.shape[2:])
    for channel in range(10):
        assert torch.allclose(weight[:, channel], rgb.mean(dim=1))
    assert net(torch.zeros(1, 10, 64, 64)).shape == (1, 1000)


def test_last_layer_setting_trains_the_class_layer_only_and_holds_batchnorm():
    model, _ = build_model("resnet18", in_channels=3, num_classes=5, width=1.0, norm2=True,
                           dropout=0.5, input_size=64)
    trainable = freeze_all_but_class_layer(model)
    assert {id(p) for p in trainable} == {id(p) for p in class_layer(model).parameters()}
    model.train()
    hold_batchnorm(model)
    bn = next(m for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    before = bn.running_mean.clone()
    model(torch.randn(4, 3, 64, 64) * 3 + 1)
    assert not bn.training and torch.equal(bn.running_mean, before)
    assert any(m.training for m in model.modules() if isinstance(m, nn.Dropout))


def test_recomputed_batchnorm_statistics_are_exact_under_the_final_weights():
    """The running averages of a short run (momentum 0.01, as EfficientNet's) still hold the
    initial statistics; recomputing gives the exact mean and variance of the data seen, with
    dropout off, and leaves the layer's own momentum as it was."""
    from twostream.models.backbones import recompute_batchnorm

    torch.manual_seed(0)
    bn = nn.BatchNorm1d(3, momentum=0.01)
    model = nn.Sequential(nn.Dropout(0.9), bn)
    data = [torch.randn(16, 3) * 4 + 7 for _ in range(5)]
    model.train()
    with torch.no_grad():
        model(data[0])
    assert (bn.running_mean - 7).abs().max() > 5  # stale: 99% of the initial zero mean
    assert recompute_batchnorm(model, iter(data)) == 5
    everything = torch.cat(data)
    assert torch.allclose(bn.running_mean, everything.mean(0), atol=1e-5)  # no dropout scaling
    per_batch = torch.stack([x.var(0) for x in data]).mean(0)  # what eval mode should divide by
    assert torch.allclose(bn.running_var, per_batch, atol=1e-4)
    assert bn.momentum == 0.01 and model.training


def test_training_recomputes_batchnorm_only_where_its_layers_learned(tiny_archives):
    """After the last step: a fine-tuned BatchNorm net gets exact statistics from training
    batches; a last-layer net keeps the held (ImageNet) ones; 0 batches keeps the averages."""
    from torch.utils.data import DataLoader

    from twostream.config import Schedule
    from twostream.inputs.sampler import BalancedBatches
    from twostream.inputs.train_sets import SpatialTrainSet
    from twostream.store.zipstore import archive_name
    from twostream.training.train import Checkpoint, Recipe, train_stream

    table, frames, _ = tiny_archives
    paths = [frames / archive_name(v) for v in table["id"]]
    labels = list(table["label"])
    data = SpatialTrainSet(paths, labels, input_size=32, jitter=0.0, seed=0)

    def batches(start):
        return DataLoader(data, batch_sampler=BalancedBatches(labels, 4, 3, 0, start))

    def trained(tmp, recompute, last_layer=False):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4, momentum=0.01), nn.ReLU(),
                              nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 4))
        block = repo_block("spatial", batch_size=4, channels_last=False, bn_recompute_batches=recompute)
        train_stream(model, batches, Recipe(block, Schedule(3, ()), last_layer_only=last_layer),
                     device=torch.device("cpu"), checkpoint=Checkpoint(tmp, {}, every=10))
        return model

    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        recomputed = trained(Path(tmp) / "a.pt", 2)
        kept = trained(Path(tmp) / "b.pt", 0)
        held = trained(Path(tmp) / "c.pt", 2, last_layer=True)
    conv, bn = recomputed[0], recomputed[1]
    with torch.no_grad():
        seen = torch.cat([conv(x) for x, _ in list(batches(0))[:2]])
    assert torch.allclose(bn.running_mean, seen.mean((0, 2, 3)), atol=1e-4)
    assert not torch.allclose(kept[1].running_mean, seen.mean((0, 2, 3)), atol=1e-2)
    assert torch.equal(held[1].running_mean, torch.zeros(4))  # held: never updated


def _three_batchnorms() -> torch.nn.Module:
    layers = []
    for c_in, c_out in ((3, 4), (4, 4), (4, 4)):
        layers += [torch.nn.Conv2d(c_in, c_out, 3, padding=1), torch.nn.BatchNorm2d(c_out), torch.nn.ReLU()]
    return torch.nn.Sequential(*layers, torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                               torch.nn.Linear(4, 2))


@pytest.mark.parametrize("recompute", [0, 2])
def test_partial_batchnorm_trains_the_first_batchnorm_and_holds_every_other(tmp_path, recompute):
    """TSN's partial BatchNorm through the training loop: the first BatchNorm layer's
    statistics and scale move; every other one's buffers and parameters stay exactly as they
    were (also after the statistics are recomputed at the end)."""
    from twostream.config import Schedule
    from twostream.training.train import Checkpoint, Recipe, train_stream

    torch.manual_seed(0)
    model = _three_batchnorms()
    first, *others = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    batches = [(torch.randn(4, 3, 8, 8) * 3 + 1, torch.tensor([0, 1, 0, 1])) for _ in range(3)]
    block = repo_block("spatial", lr=0.1, channels_last=False, partial_bn=True,
                       bn_recompute_batches=recompute)
    train_stream(model, lambda start: batches[start:], Recipe(block, Schedule(3, ())),
                 device=torch.device("cpu"), checkpoint=Checkpoint(tmp_path / "c.pt", {}, every=3))
    after = model.state_dict()
    names = {id(m): n for n, m in model.named_modules()}
    for layer in others:
        for key in ("running_mean", "running_var", "weight", "bias"):
            name = f"{names[id(layer)]}.{key}"
            assert torch.equal(after[name], before[name]), name
    prefix = names[id(first)]
    for key in ("running_mean", "running_var", "weight"):
        assert not torch.equal(after[f"{prefix}.{key}"], before[f"{prefix}.{key}"]), key
    assert not torch.equal(after["0.weight"], before["0.weight"])  # the convolutions still learn


@pytest.mark.parametrize("arch", ["cnn_m_2048", "resnet18", "resnet50", "vgg16", "efficientnet_lite0"])
def test_each_network_runs_at_its_smallest_input_size_and_config_refuses_below(arch):
    """config.MIN_INPUT_SIZE is each network's true floor: it runs there, and (CNN-M) one pixel
    less leaves nothing after its poolings, which params validation refuses by name first."""
    from twostream.config import MIN_INPUT_SIZE, ParamsError

    from conftest import repo_params

    size = MIN_INPUT_SIZE.get(arch, 32)
    net, _ = build_model(arch, in_channels=20, num_classes=3, width=0.25, norm2=False, dropout=0.5,
                         input_size=size)
    assert net.eval()(torch.zeros(1, 20, size, size)).shape == (1, 3)
    if arch in MIN_INPUT_SIZE:
        with pytest.raises(RuntimeError, match="too small"):
            build_model(arch, in_channels=20, num_classes=3, width=0.25, norm2=False, dropout=0.5,
                        input_size=size - 1)
        with pytest.raises(ParamsError, match=f"temporal.input_size={size - 1}: {arch} needs at least {size}"):
            repo_params({"temporal": {"backbone": arch, "input_size": size - 1}})
