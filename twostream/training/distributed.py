"""Data-parallel training under torchrun: one process per GPU (or per CPU slot, on gloo).

Each global batch of :class:`~twostream.inputs.sampler.BalancedBatches` is cut into ``world`` equal
slices, one per rank; DistributedDataParallel averages the gradients, so a step sees the same
samples and (up to dropout masks and float rounding) the same gradient as one process taking
the whole batch. Only rank 0 writes checkpoints, logs and the model.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.size > 1

    def device(self) -> torch.device:
        """This rank's GPU (by local rank) when there is one, else the CPU."""
        if torch.cuda.is_available():
            torch.cuda.set_device(self.local_rank)
            return torch.device("cuda", self.local_rank)
        return torch.device("cpu")

    def sum(self, values: list[float]) -> list[float]:
        """Element-wise sum over ranks (for logged loss and accuracy counts)."""
        if not self.active:
            return values
        tensor = torch.tensor(values, dtype=torch.float64,
                              device="cuda" if dist.get_backend() == "nccl" else "cpu")
        dist.all_reduce(tensor)
        return tensor.tolist()

    def gather(self, obj: Any) -> list[Any]:
        if not self.active:
            return [obj]
        out: list[Any] = [None] * self.size
        dist.all_gather_object(out, obj)
        return out

    def barrier(self) -> None:
        if self.active:
            dist.barrier()


def join() -> World:
    """Join torchrun's process group (nccl on CUDA, gloo on CPU); alone, a world of one."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return World()
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    log.info("rank %d of %d (local rank %d)", rank, size, local)
    return World(rank, size, local)


def leave(world: World) -> None:
    if world.active and dist.is_initialized():
        dist.destroy_process_group()
