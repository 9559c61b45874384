import pytest
import torch
from torch import nn

from twostream.models import build_model
from twostream.models.backbones import (class_layer, freeze_all_but_class_layer, hold_batchnorm,
                                        imagenet_shaped, set_input_channels, stem)


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
