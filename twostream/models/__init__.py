"""Networks for both streams, picked by the ``backbone`` params, with or without ImageNet weights."""

from __future__ import annotations

from torch import nn

from twostream.models.backbones import (imagenet_shaped, set_classes, set_dropout,
                                        set_input_channels)
from twostream.models.normalise import Normalised
from twostream.models.weights import Pretrained, WeightsError, load_imagenet

__all__ = ["build_model", "Pretrained", "WeightsError"]


def build_model(arch: str, *, in_channels: int, num_classes: int, width: float, norm2: bool,
                dropout: float, input_size: int, rgb: bool | None = None,
                imagenet: tuple[str, str] | None = None) -> tuple[nn.Module, Pretrained | None]:
    """The network named by ``arch`` for ``in_channels`` inputs and ``num_classes`` classes.

    ``imagenet=(path, key)`` loads ImageNet weights first (``path`` '' = the default source;
    ``key`` names the param in errors); a non-RGB input then gets cross-modality conv1 weights.
    RGB networks (``rgb``, default: 3 channels) sit behind an :class:`InputNorm` matching the
    weights' normalisation. Built without ``imagenet`` the structure is the same, so a saved
    state_dict loads into it.
    """
    net = imagenet_shaped(arch, width=width, input_size=input_size, norm2=norm2)
    info = load_imagenet(net, arch, *imagenet) if imagenet is not None else None
    set_input_channels(net, in_channels, from_rgb=info is not None)
    set_classes(net, num_classes)
    set_dropout(net, arch, dropout)
    if not (in_channels == 3 if rgb is None else rgb):
        return net, info
    model = Normalised(net)
    if info is not None:
        model.norm.expect(info.mean, info.std)
    return model, info
