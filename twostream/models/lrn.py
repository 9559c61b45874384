"""Local response normalisation across channels (CNN-M's LRN), bit-identical to PyTorch's
``nn.LocalResponseNorm`` in its outputs and gradients, and faster on the CPU.

PyTorch computes the mean of squares over a window of channels with ``avg_pool3d`` over a
padded copy, which on the CPU costs as much as CNN-M's first convolution. Here the window is
summed from shifted slices, in the order ``avg_pool3d`` sums (the channels of the window in
increasing order, then divided by its size) and its backward accumulates (the outputs of the
windows in increasing order), so every float is the same: weights trained with either are
equal. The padding's zeros are left out: adding 0 changes no float.
"""

from __future__ import annotations

import torch
from torch import nn


def _window(offset: int, channels: int) -> tuple[slice, slice]:
    """(where in the output, where in the input) channel ``c + offset`` meets channel ``c``."""
    return slice(max(0, -offset), channels - max(0, offset)), slice(max(0, offset), channels + min(0, offset))


def window_mean(squares: torch.Tensor, size: int) -> torch.Tensor:
    """Each channel's mean of ``squares`` over the ``size`` channels around it (zeros past the
    ends), summed in avg_pool3d's order."""
    channels, total = squares.shape[1], torch.zeros_like(squares)
    for offset in range(-(size // 2), (size - 1) // 2 + 1):
        out, src = _window(offset, channels)
        total[:, out] += squares[:, src]
    return total / size


class _WindowMean(torch.autograd.Function):
    @staticmethod
    def forward(ctx, squares: torch.Tensor, size: int) -> torch.Tensor:  # type: ignore[override]
        ctx.size = size
        return window_mean(squares, size)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        size, channels = ctx.size, grad.shape[1]
        share, total = grad / size, torch.zeros_like(grad)
        # input c gathers the outputs c - size//2 ... c + (size-1)//2, in increasing order
        for offset in range((size - 1) // 2, -(size // 2) - 1, -1):
            out, src = _window(offset, channels)
            total[:, src] += share[:, out]
        return total, None


class LocalResponseNorm(nn.Module):
    """``nn.LocalResponseNorm(size, alpha, beta, k)`` on (N, C, H, W) inputs."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> None:
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        squares = x.mul(x)
        # plain tensor ops where no gradient is wanted (inference, and torch.jit.trace)
        mean = _WindowMean.apply(squares, self.size) if squares.requires_grad else window_mean(squares, self.size)
        return x / mean.mul(self.alpha).add(self.k).pow(self.beta)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
