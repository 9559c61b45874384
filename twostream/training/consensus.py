"""Segmental consensus (TSN): a training example of K snippets is one video, and the net's class
scores for its snippets are averaged *before* the softmax loss, so the loss and its gradient see
the video's consensus rather than K independent guesses.

Batches of the paper's single snippet, (B, C, H, W), pass through unchanged.
"""

from __future__ import annotations

import torch
from torch import nn


def snippets_flat(inputs: torch.Tensor) -> tuple[torch.Tensor, int]:
    """(B, K, C, H, W) -> (B * K, C, H, W) and K; (B, C, H, W) -> itself and 1."""
    if inputs.ndim == 5:
        return inputs.flatten(0, 1), inputs.shape[1]
    return inputs, 1


def consensus(logits: torch.Tensor, segments: int) -> torch.Tensor:
    """(B * K, classes) snippet scores -> (B, classes): the mean over each video's K snippets,
    taken on the class layer's outputs (pre-softmax), as TSN's average consensus is."""
    if segments == 1:
        return logits
    return logits.view(-1, segments, logits.shape[-1]).mean(dim=1)


def forward_videos(net: nn.Module, inputs: torch.Tensor, channels_last: bool = False) -> torch.Tensor:
    """The video-level class scores of a batch of one or K snippets per video."""
    flat, segments = snippets_flat(inputs)
    if channels_last:
        flat = flat.contiguous(memory_format=torch.channels_last)
    return consensus(net(flat), segments)
