"""Process-level setup shared by the stage entry points: logging, device, thread count."""

from __future__ import annotations

import ctypes
import logging
import os
import platform
from importlib import metadata

from typing import TYPE_CHECKING

from twostream.errors import UserError

if TYPE_CHECKING:  # torch takes seconds to import: the stages that never touch it (fuse, report) skip it
    import torch

# The packages whose versions decide the results (constraints.txt pins them all).
RESULT_PACKAGES = ("torch", "torchvision", "opencv-contrib-python-headless", "numpy",
                   "scikit-learn", "pandas", "dvc", "unrar2-cffi")


def configure_logging(stage: str) -> logging.Logger:
    logging.basicConfig(level=os.environ.get("TWOSTREAM_LOG", "INFO"),
                        format=f"[{stage}] %(levelname)s %(message)s")
    return logging.getLogger(f"twostream.{stage}")


def pick_device() -> "torch.device":
    """CUDA when present (recorded in outputs), else the CPU with one thread per core and
    freed tensor memory kept for reuse (:func:`keep_freed_memory`)."""
    import torch

    if torch.cuda.is_available():
        return torch.device("cuda")
    torch.set_num_threads(os.cpu_count() or 1)
    keep_freed_memory()
    return torch.device("cpu")


# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
KEEP_FREED_BYTES = 1 << 30


def keep_freed_memory(limit: int = KEEP_FREED_BYTES) -> bool:
    """Have glibc's allocator serve blocks up to ``limit`` bytes from its heap and keep freed
    memory there, instead of mapping each large block afresh and returning it on free.

    A CPU forward pass allocates and frees the same tens-of-MB activations at every layer;
    by default each such block is a fresh mmap whose pages fault in one by one, so scoring a
    batch of 50 crops spent more time in the kernel than in convolutions (measured in
    bench/RESULTS.md). The arithmetic is untouched. False where the C library is not glibc."""
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, limit)) and bool(mallopt(_M_TRIM_THRESHOLD, limit))


def torchrun_shard() -> tuple[int, int]:
    """(rank, world size) from torchrun's environment; (0, 1) when run alone."""
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    if not 0 <= rank < world:
        raise UserError(f"RANK={rank} is outside WORLD_SIZE={world}")
    return rank, world


def autocast(device: "torch.device", enabled: bool = True) -> "torch.autocast":
    """bfloat16 autocast on CUDA (no loss scaling needed, unlike float16); off on the CPU."""
    import torch

    return torch.autocast(device.type, dtype=torch.bfloat16,
                          enabled=enabled and device.type == "cuda")


def package_versions() -> dict[str, str]:
    """What ran: Python, the packages that decide the results, and the processor (float
    reductions round differently on other CPUs; docs/reproducing.md says by how much)."""
    versions = {"python": platform.python_version(), "machine": platform.machine(),
                "cpu": _cpu_model()}
    for name in RESULT_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
