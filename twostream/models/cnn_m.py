"""CNN-M-2048 (Chatfield et al. 2014), the network of both streams in the paper.

conv1 7x7/2 96 + LRN + pool, conv2 5x5/2 256 (+ LRN: the temporal net drops it) + pool,
conv3-5 3x3 512, pool, full6 4096, full7 2048 (ReLU + dropout), then the class layer. Pooling
rounds up as Caffe's does. ``width`` scales every layer so the default trains on a CPU; at
``width=1`` and ``input_size=224`` this is the paper's network.
"""

from __future__ import annotations

import torch
from torch import nn

from twostream.models.lrn import LocalResponseNorm


def _lrn() -> LocalResponseNorm:
    # Caffe CNN-M: local_size 5, alpha 5e-4, beta 0.75, k 2.
    return LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0)


class CNNM2048(nn.Module):
    def __init__(self, in_channels: int, num_classes: int, *, width: float = 1.0,
                 norm2: bool = True, dropout: float = 0.5, input_size: int = 224) -> None:
        super().__init__()

        def ch(n: int) -> int:
            return max(8, int(round(n * width)))

        self.features = nn.Sequential(
            nn.Conv2d(in_channels, ch(96), 7, stride=2), nn.ReLU(inplace=True), _lrn(),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            nn.Conv2d(ch(96), ch(256), 5, stride=2, padding=1), nn.ReLU(inplace=True),
            *([_lrn()] if norm2 else []),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            nn.Conv2d(ch(256), ch(512), 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(ch(512), ch(512), 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(ch(512), ch(512), 3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            nn.Flatten(),
        )
        with torch.no_grad():
            flat = self.features(torch.zeros(1, in_channels, input_size, input_size)).shape[1]
        self.classifier = nn.Sequential(
            nn.Linear(flat, ch(4096)), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(ch(4096), ch(2048)), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(ch(2048), num_classes),
        )
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                nn.init.zeros_(module.bias)
        nn.init.normal_(self.classifier[-1].weight, std=0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
