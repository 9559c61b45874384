"""MomentumSGD is torch.optim.SGD's arithmetic bit for bit, and its state is torch's."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import torch
from torch import nn

from conftest import REPO
from twostream.training.sgd import MomentumSGD

SETTINGS = {"lr": 0.01, "momentum": 0.9, "weight_decay": 0.0005}


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 5))


def _train(model: nn.Module, optimizer, steps: range, *, head_only_every: int = 0) -> None:  # noqa: ANN001
    gen = torch.Generator().manual_seed(1)
    batches = [(torch.randn(6, 3, 8, 8, generator=gen), torch.randint(0, 5, (6,), generator=gen))
               for _ in range(max(steps) + 1)]
    for i in steps:
        x, y = batches[i]
        for group in optimizer.param_groups:
            group["lr"] = SETTINGS["lr"] * (0.1 if i >= 3 else 1.0)  # a step of the schedule
        if head_only_every and i % head_only_every == 0:  # some steps leave the conv without grads
            with torch.no_grad():
                features = model[:3](x)
            loss = nn.functional.cross_entropy(model[3](features), y)
        else:
            loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


@pytest.mark.parametrize("settings", [SETTINGS, {**SETTINGS, "momentum": 0.0},
                                      {**SETTINGS, "weight_decay": 0.0}])
def test_the_weights_are_torch_sgds_bit_for_bit(settings):
    ours, theirs = _net(), _net()
    _train(ours, MomentumSGD(ours.parameters(), **settings), range(6), head_only_every=4)
    _train(theirs, torch.optim.SGD(theirs.parameters(), **settings), range(6), head_only_every=4)
    for a, b in zip(ours.parameters(), theirs.parameters()):
        assert torch.equal(a, b)


def test_the_multi_tensor_update_is_torchs_foreach_update():
    """The GPU's path (one multi-tensor call per operation), run here on the CPU."""
    ours, theirs = _net(), _net()
    optimizer = MomentumSGD(ours.parameters(), **SETTINGS)
    optimizer.step = lambda: optimizer._step_multi_tensor(  # noqa: E731 - force the path on the CPU
        [p for p in ours.parameters() if p.grad is not None], optimizer.param_groups[0]["lr"],
        SETTINGS["momentum"], SETTINGS["weight_decay"])
    _train(ours, optimizer, range(6), head_only_every=4)
    _train(theirs, torch.optim.SGD(theirs.parameters(), **SETTINGS, foreach=True), range(6),
           head_only_every=4)
    for a, b in zip(ours.parameters(), theirs.parameters()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("saver, loader", [(torch.optim.SGD, MomentumSGD), (MomentumSGD, torch.optim.SGD),
                                           (MomentumSGD, MomentumSGD)])
def test_a_saved_state_resumes_in_either_to_the_same_weights(saver, loader):
    """A checkpoint's optimizer state (momentum buffers, group settings) is torch's layout."""
    straight = _net()
    _train(straight, torch.optim.SGD(straight.parameters(), **SETTINGS), range(6))
    first = _net()
    optimizer = saver(first.parameters(), **SETTINGS)
    _train(first, optimizer, range(3))
    saved = copy.deepcopy(optimizer.state_dict())
    resumed = copy.deepcopy(first)
    other = loader(resumed.parameters(), lr=1.0, momentum=0.5, weight_decay=0.0)
    other.load_state_dict(saved)
    assert other.param_groups[0]["momentum"] == SETTINGS["momentum"]
    _train(resumed, other, range(3, 6))
    for a, b in zip(resumed.parameters(), straight.parameters()):
        assert torch.equal(a, b)


def test_state_for_other_parameters_is_refused():
    optimizer = MomentumSGD(_net().parameters(), **SETTINGS)
    small = MomentumSGD(nn.Linear(2, 2).parameters(), **SETTINGS)
    with pytest.raises(ValueError, match="other parameters"):
        small.load_state_dict(optimizer.state_dict())


def test_training_does_not_load_torchs_compiler():
    """What the class is for: a training step without importing torch._dynamo (~1.3 s)."""
    probe = ("import sys, torch\n"
             f"sys.path.insert(0, {str(REPO)!r})\n"
             "from twostream.training.sgd import MomentumSGD\n"
             "net = torch.nn.Linear(3, 2)\n"
             "opt = MomentumSGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=0.0)\n"
             "net(torch.randn(4, 3)).sum().backward(); opt.step(); opt.zero_grad()\n"
             "print('torch._dynamo' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
