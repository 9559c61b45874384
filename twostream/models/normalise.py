"""Input normalisation inside the network, so the data pipeline stays backbone-agnostic.

Samples arrive normalised with the ImageNet mean and std (torchvision's convention). A backbone
trained elsewhere expects its own: EfficientNet-Lite (x - 127) / 128 on 0-255 pixels, MatConvNet's
CNN-M 0-255 pixels minus its average image. :class:`InputNorm` converts, and its constants are
buffers, so a saved model carries them and evaluation needs no weights file.
"""

from __future__ import annotations

import torch
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class InputNorm(nn.Module):
    """y = (x * in_std + in_mean - mean) / std, per RGB channel; identity until :meth:`expect`."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("scale", torch.ones(1, 3, 1, 1))
        self.register_buffer("shift", torch.zeros(1, 3, 1, 1))

    def expect(self, mean: tuple[float, ...] | torch.Tensor, std: tuple[float, ...] | torch.Tensor) -> None:
        """Make the output normalised with ``mean`` / ``std`` (on 0-1 pixels) instead of ImageNet's."""
        in_mean, in_std = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
        mean, std = torch.as_tensor(mean, dtype=torch.float32), torch.as_tensor(std, dtype=torch.float32)
        self.scale.copy_((in_std / std).view(1, 3, 1, 1))
        self.shift.copy_(((in_mean - mean) / std).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.shift


class Normalised(nn.Sequential):
    """An RGB network behind its :class:`InputNorm`."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.norm = InputNorm()
        self.net = net
