"""Process-level setup shared by the stage entry points: logging, device, thread count."""

from __future__ import annotations

import logging
import os

import torch


def configure_logging(stage: str) -> logging.Logger:
    logging.basicConfig(level=os.environ.get("TWOSTREAM_LOG", "INFO"),
                        format=f"[{stage}] %(levelname)s %(message)s")
    return logging.getLogger(f"twostream.{stage}")


def pick_device() -> torch.device:
    """CUDA when present (recorded in outputs), else the CPU with one thread per core."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    torch.set_num_threads(os.cpu_count() or 1)
    return torch.device("cpu")


def torchrun_shard() -> tuple[int, int]:
    """(rank, world size) from torchrun's environment; (0, 1) when run alone."""
    import os

    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    if not 0 <= rank < world:
        raise SystemExit(f"RANK={rank} is outside WORLD_SIZE={world}")
    return rank, world


def autocast(device: torch.device, enabled: bool = True) -> torch.autocast:
    """bfloat16 autocast on CUDA (no loss scaling needed, unlike float16); off on the CPU."""
    return torch.autocast(device.type, dtype=torch.bfloat16,
                          enabled=enabled and device.type == "cuda")
