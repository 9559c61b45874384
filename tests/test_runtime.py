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
