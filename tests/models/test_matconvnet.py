"""The MatConvNet converter, on small .mat files written here in imagenet-vgg-m-2048.mat's layout."""

import numpy as np
import pytest
import scipy.io
import torch
from torch import nn

from twostream.models import WeightsError, build_model
from twostream.models.cnn_m import CNNM2048

AVERAGE_RGB = np.array([122.7, 114.9, 101.6], np.float32)
WIDTH, SIZE = 0.1, 96  # a small CNN-M: conv5 ends on a 2x2 map, so full6 is a 2x2 filter


def _matconvnet_layers(net: CNNM2048, new_format: bool) -> np.ndarray:
    """The SimpleNN layer list: conv filters as (H, W, Cin, Cout), full layers as convolutions."""
    learnable = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    names = ["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"]
    grid = int(round((learnable[5].in_features / learnable[4].out_channels) ** 0.5))
    layers = []
    for name, module in zip(names, learnable):
        w = module.weight.detach().numpy()
        if w.ndim == 2:  # Linear (out, in) -> a (k, k, C, out) filter over the previous (C, k, k) map
            k = grid if name == "fc6" else 1
            w = w.reshape(w.shape[0], -1, k, k)
        filters = np.ascontiguousarray(w.transpose(2, 3, 1, 0))  # (Cout, Cin, H, W) -> (H, W, Cin, Cout)
        biases = module.bias.detach().numpy().reshape(1, -1)
        layer = {"name": name, "type": "conv", "stride": np.array([1.0, 1.0]), "pad": 0.0}
        if new_format:
            cell = np.empty((1, 2), dtype=object)
            cell[0, 0], cell[0, 1] = filters, biases
            layer["weights"] = cell
        else:
            layer["filters"], layer["biases"] = filters, biases
        layers.append(layer)
        layers.append({"name": f"relu{name[-1]}", "type": "relu"})
    layers.append({"name": "prob", "type": "softmax"})
    array = np.empty((1, len(layers)), dtype=object)
    for i, layer in enumerate(layers):
        array[0, i] = layer
    return array


@pytest.fixture(params=[True, False], ids=["beta16+", "older"])
def mat_file(request, tmp_path):
    torch.manual_seed(0)
    net = CNNM2048(3, 1000, width=WIDTH, input_size=SIZE)
    average = np.tile(AVERAGE_RGB, (SIZE, SIZE, 1))  # the full average image, as the file stores it
    normalization = {"averageImage": average, "imageSize": np.array([SIZE, SIZE, 3.0])}
    content = {"layers": _matconvnet_layers(net, request.param)}
    if request.param:
        content["meta"] = {"normalization": normalization}
    else:
        content["normalization"] = normalization
    path = tmp_path / "imagenet-vgg-m-2048.mat"
    scipy.io.savemat(str(path), content)
    return path, net


def test_converted_network_computes_what_matconvnet_would(mat_file):
    path, reference = mat_file
    model, info = build_model("cnn_m_2048", in_channels=3, num_classes=1000, width=WIDTH,
                              norm2=True, dropout=0.5, input_size=SIZE,
                              imagenet=(str(path), "spatial.weights"))
    assert info.source == "MatConvNet imagenet-vgg-m-2048.mat"
    first = model.net.features[0].weight
    filters = scipy.io.loadmat(str(path), squeeze_me=True, struct_as_record=False)["layers"][0]
    raw = filters.weights[0] if hasattr(filters, "weights") else filters.filters
    assert first[5, 2, 1, 4].item() == pytest.approx(float(raw[1, 4, 2, 5]))  # (o, c, y, x) <- (y, x, c, o)
    model.eval(), reference.eval()
    with torch.no_grad():
        model.net.classifier[-1].load_state_dict(reference.classifier[-1].state_dict())
    # MatConvNet's input: RGB pixels 0-255 minus the average; ours: ImageNet-normalised RGB.
    pixels = torch.rand(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1)) * 255
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        ours = model((pixels / 255 - mean) / std)
        theirs = reference(pixels - torch.from_numpy(AVERAGE_RGB).view(1, 3, 1, 1))
    assert torch.allclose(ours, theirs, rtol=1e-4, atol=1e-3)


def test_a_file_for_another_width_is_refused_naming_the_param(mat_file):
    path, _ = mat_file
    with pytest.raises(WeightsError, match=r"spatial.weights: layer conv1: .*spatial.width: 1.0"):
        build_model("cnn_m_2048", in_channels=3, num_classes=10, width=0.25, norm2=True,
                    dropout=0.5, input_size=SIZE, imagenet=(str(path), "spatial.weights"))


def test_not_a_matconvnet_file_is_named(tmp_path):
    path = tmp_path / "imagenet-vgg-m-2048.mat"
    path.write_bytes(b"<html>not found</html>")
    with pytest.raises(WeightsError, match=r"spatial.weights: .*imagenet-vgg-m-2048.mat"):
        build_model("cnn_m_2048", in_channels=3, num_classes=10, width=WIDTH, norm2=True,
                    dropout=0.5, input_size=SIZE, imagenet=(str(path), "spatial.weights"))
