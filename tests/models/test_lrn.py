import pytest
import torch
from torch import nn

from twostream.models.lrn import LocalResponseNorm


@pytest.mark.parametrize("shape", [(32, 24, 45, 45), (8, 64, 11, 11), (3, 3, 5, 5), (2, 1, 4, 4)])
@pytest.mark.parametrize("size", [5, 4, 1])
def test_local_response_norm_equals_pytorchs_bit_for_bit_forward_and_backward(shape, size):
    """Weights trained with either must be equal, so every float must be: sums in the same
    order as avg_pool3d's, forward and backward, at a window wider than the channels too."""
    generator = torch.Generator().manual_seed(sum(shape) + size)
    for scale in (1.0, 40.0):  # the second makes alpha * mean comparable to k
        x = (torch.randn(shape, generator=generator) * scale).relu().requires_grad_()
        ours_x = x.detach().clone().requires_grad_()
        grad = torch.randn(shape, generator=generator)
        reference = nn.LocalResponseNorm(size, alpha=5e-4, beta=0.75, k=2.0)(x)
        ours = LocalResponseNorm(size, alpha=5e-4, beta=0.75, k=2.0)(ours_x)
        reference.backward(grad)
        ours.backward(grad)
        assert torch.equal(ours, reference)
        assert torch.equal(ours_x.grad, x.grad)


def test_local_response_norm_without_gradients_and_traced_matches():
    x = torch.rand(4, 24, 9, 9) * 30
    reference = nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0)(x)
    module = LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0)
    with torch.inference_mode():
        assert torch.equal(module(x), reference)
        traced = torch.jit.freeze(torch.jit.trace(nn.Sequential(module).eval(), x, check_trace=False))
        assert torch.equal(traced(x), reference)
