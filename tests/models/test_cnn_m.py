import torch
from torch import nn

from twostream.models.cnn_m import CNNM2048
from twostream.models.lrn import LocalResponseNorm


def _count(model, kind):
    return sum(isinstance(m, kind) for m in model.modules())


def test_paper_sized_network_shapes():
    spatial = CNNM2048(3, 101, norm2=True, dropout=0.5)
    temporal = CNNM2048(20, 101, norm2=False, dropout=0.9)
    assert _count(spatial, LocalResponseNorm) == 2 and _count(temporal, LocalResponseNorm) == 1
    convs = [m for m in spatial.features if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size[0], c.stride[0]) for c in convs] == [
        (96, 7, 2), (256, 5, 2), (512, 3, 1), (512, 3, 1), (512, 3, 1)]
    fcs = [m for m in spatial.classifier if isinstance(m, nn.Linear)]
    assert [f.out_features for f in fcs] == [4096, 2048, 101]
    assert fcs[0].in_features == 6 * 6 * 512  # Caffe-style pooling at 224 px
    assert temporal.features[0].in_channels == 20


def test_small_network_runs_on_cpu():
    model = CNNM2048(20, 12, width=0.25, norm2=False, dropout=0.9, input_size=84)
    assert model(torch.zeros(2, 20, 84, 84)).shape == (2, 12)


def test_conv2_padding_and_lrn_constants_are_caffes_cnn_m_2048():
    """Caffe's VGG_CNN_M_2048: conv2 5x5/2 with pad 1 (26x26 maps at 224 px; 25x25 without the
    pad, which the 6x6 of full6 does not reveal) and LRN local_size 5, alpha 5e-4, beta 0.75,
    k 2 (both frameworks divide alpha by the size)."""
    model = CNNM2048(3, 101)
    conv2 = [m for m in model.features if isinstance(m, nn.Conv2d)][1]
    assert conv2.padding == (1, 1)
    upto_conv2 = model.features[: list(model.features).index(conv2) + 1]
    assert upto_conv2(torch.zeros(1, 3, 224, 224)).shape[-2:] == (26, 26)
    for lrn in (m for m in model.modules() if isinstance(m, LocalResponseNorm)):
        assert (lrn.size, lrn.alpha, lrn.beta, lrn.k) == (5, 5e-4, 0.75, 2.0)
