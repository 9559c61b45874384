"""Network builders, picked by the ``arch`` param."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from twostream.models.cnn_m import CNNM2048


def build_model(arch: str, *, in_channels: int, num_classes: int, width: float, norm2: bool,
                dropout: float, input_size: int) -> nn.Module:
    """The network named by ``arch`` (a params.yaml value), ready to train from scratch."""
    builders: dict[str, Callable[..., nn.Module]] = {"cnn_m_2048": CNNM2048}
    if arch not in builders:
        raise ValueError(f"arch={arch!r}: must be one of {sorted(builders)}")
    return builders[arch](in_channels, num_classes, width=width, norm2=norm2, dropout=dropout,
                          input_size=input_size)
