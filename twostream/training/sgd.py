"""SGD with momentum and weight decay: the paper's optimiser, computed as ``torch.optim.SGD``
computes it, without ``torch.optim``.

Building any ``torch.optim`` optimiser imports PyTorch's compiler (``torch._dynamo``, to mark
its methods as not to be compiled): about 1.3 s in every training process on a 2-core CPU,
where a short training stage's own work is 10-40 s, for a compiler training never uses. The
update here is the same arithmetic in the same order as ``torch.optim.SGD``'s, on one tensor
at a time (its default on the CPU) or as one multi-tensor call per step on a GPU (its default
there), so weights and tables are bit-identical; ``state_dict`` is ``torch.optim.SGD``'s, so a
checkpoint written by either resumes with the other.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch


class MomentumSGD:
    """One parameter group: ``param_groups[0]["lr"]`` is read at every step (the schedule sets it)."""

    def __init__(self, params: Iterable[torch.nn.Parameter], *, lr: float, momentum: float,
                 weight_decay: float) -> None:
        params = list(params)
        if not params:
            raise ValueError("MomentumSGD: no parameters to optimise")
        # torch.optim.SGD's group keys, so that its state_dict and this one are interchangeable.
        self.param_groups: list[dict[str, Any]] = [{
            "params": params, "lr": lr, "momentum": momentum, "dampening": 0.0,
            "weight_decay": weight_decay, "nesterov": False, "maximize": False, "foreach": None,
            "differentiable": False, "fused": None}]
        self.state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}

    @property
    def _params(self) -> list[torch.nn.Parameter]:
        return self.param_groups[0]["params"]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for param in self._params:
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                param.grad.detach_().zero_()

    @torch.no_grad()
    def step(self) -> None:
        """``w -= lr * b`` with ``b = momentum * b + (g + weight_decay * w)`` (the first step's
        ``b`` the bracket itself), as torch.optim.SGD without dampening or Nesterov."""
        group = self.param_groups[0]
        lr, momentum, decay = float(group["lr"]), float(group["momentum"]), float(group["weight_decay"])
        params = [p for p in self._params if p.grad is not None]
        if not params:
            return
        if params[0].device.type == "cuda":
            self._step_multi_tensor(params, lr, momentum, decay)
            return
        for param in params:
            grad = param.grad
            if decay != 0:
                grad = grad.add(param, alpha=decay)
            if momentum != 0:
                grad = self._momentum(param, grad, momentum)
            param.add_(grad, alpha=-lr)

    def _momentum(self, param: torch.nn.Parameter, grad: torch.Tensor, momentum: float) -> torch.Tensor:
        """``param``'s momentum buffer after this step's ``grad``: ``grad`` itself the first time."""
        state = self.state.setdefault(param, {})
        buffer = state.get("momentum_buffer")
        if buffer is None:
            buffer = state["momentum_buffer"] = grad.detach().clone()
        else:
            buffer.mul_(momentum).add_(grad, alpha=1.0)
        return buffer

    @torch.no_grad()
    def _step_multi_tensor(self, params: list[torch.nn.Parameter], lr: float, momentum: float,
                           decay: float) -> None:
        """The same update as one multi-tensor call per operation (torch.optim.SGD's ``foreach``
        path, its default on a GPU): a few kernel launches per step instead of a few per tensor."""
        grads = [p.grad for p in params]
        if decay != 0:
            grads = torch._foreach_add(grads, params, alpha=decay)
        if momentum != 0:
            if all("momentum_buffer" in self.state.get(p, {}) for p in params):
                buffers = [self.state[p]["momentum_buffer"] for p in params]
                torch._foreach_mul_(buffers, momentum)
                torch._foreach_add_(buffers, grads, alpha=1.0)
            else:  # a first step: a buffer starts as the gradient itself
                buffers = [self._momentum(p, g, momentum) for p, g in zip(params, grads)]
            grads = buffers
        torch._foreach_add_(params, grads, alpha=-lr)

    def state_dict(self) -> dict[str, Any]:
        """torch.optim.SGD's layout: momentum buffers by parameter index, the group's settings."""
        index = {id(p): i for i, p in enumerate(self._params)}
        state = {index[id(p)]: dict(s) for p, s in self.state.items()}
        group = {k: v for k, v in self.param_groups[0].items() if k != "params"}
        group["params"] = list(range(len(self._params)))
        return {"state": state, "param_groups": [group]}

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        """A state saved by this class or by torch.optim.SGD over the same parameters."""
        groups = saved["param_groups"]
        if len(groups) != 1 or len(groups[0]["params"]) != len(self._params):
            raise ValueError("optimizer state: made for other parameters (its groups do not match)")
        position = {index: n for n, index in enumerate(groups[0]["params"])}
        self.state = {}
        for index, entry in saved["state"].items():
            param = self._params[position[index]]
            self.state[param] = {
                key: (value.to(device=param.device, dtype=param.dtype)
                      if isinstance(value, torch.Tensor) else value)
                for key, value in entry.items()}
        self.param_groups[0].update({k: v for k, v in groups[0].items() if k != "params"})
