import platform

import pytest
from twostream.errors import UserError
import torch

from twostream.runtime import RESULT_PACKAGES, autocast, package_versions, torchrun_shard


def test_torchrun_shard_reads_the_environment_and_refuses_a_rank_outside_the_world(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert torchrun_shard() == (0, 1)
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert torchrun_shard() == (2, 4)
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(UserError, match="RANK=4 is outside WORLD_SIZE=4"):
        torchrun_shard()


def test_autocast_leaves_the_cpu_in_float32_even_when_asked():
    """amp is a GPU setting: on the CPU the nets train and score in float32 either way."""
    a, b = torch.ones(4, 4), torch.ones(4, 4)
    with autocast(torch.device("cpu"), True):
        assert not torch.is_autocast_enabled("cpu") and (a @ b).dtype == torch.float32


def test_package_versions_name_what_decides_the_results():
    versions = package_versions()
    assert set(RESULT_PACKAGES) <= set(versions) and torch.__version__.startswith(versions["torch"].split("+")[0])
    assert versions["python"] and versions["cpu"]


_MMAPPED_AFTER_64MB = """
import ctypes, sys
from twostream.runtime import keep_freed_memory
class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
                 "fordblks", "keepcost")]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
if sys.argv[1] == "keep":
    assert keep_freed_memory()
before = libc.mallinfo2().hblkhd
block = libc.malloc(64 << 20)
print(libc.mallinfo2().hblkhd - before)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's allocator only")
def test_keep_freed_memory_serves_large_blocks_from_the_heap_not_fresh_mappings():
    """A 64 MB block (a batch's activations) comes from a fresh mmap by default, and from the
    heap once freed memory is kept: the default would fault in its pages on every layer."""
    import subprocess
    import sys

    from conftest import REPO

    def mapped(mode: str) -> int:
        out = subprocess.run([sys.executable, "-c", _MMAPPED_AFTER_64MB, mode], cwd=REPO, check=True,
                             capture_output=True, text=True).stdout
        return int(out)  # bytes newly mapped by the 64 MB malloc

    assert mapped("default") >= 64 << 20
    assert mapped("keep") == 0
