"""The GPU decoding path, run on the CPU: it must make the samples the CPU path makes."""

import subprocess
import sys
import textwrap

import pytest
import torch

from twostream.inputs.gpu_decode import assembler, collate_raw, raw_dataset
from twostream.inputs.sampler import BalancedBatches
from twostream.inputs.train_sets import SpatialTrainSet, TemporalTrainSet
from twostream.store.zipstore import archive_name

from conftest import repo_block


def _compare(data, labels):
    raw = raw_dataset(data)
    keys = next(iter(BalancedBatches(labels, 6, 1, seed=0)))
    cpu = torch.stack([data[k][0] for k in keys])
    batch = collate_raw([raw[k] for k in keys])
    made = assembler(data)(batch, torch.device("cpu"))
    assert made.shape == cpu.shape
    assert batch.labels.tolist() == [labels[v] for v, _ in keys]
    return made, cpu


@pytest.mark.parametrize("segments, crops", [(1, "random"), (3, "corners_scales")])
def test_spatial_samples_match_the_cpu_path(tiny_archives, segments, crops):
    table, frames, _ = tiny_archives
    paths, labels = [frames / archive_name(v) for v in table["id"]], list(table["label"])
    made, cpu = _compare(SpatialTrainSet(paths, labels, input_size=40, jitter=0.2, seed=0,
                                         segments=segments, crops=crops), labels)
    assert made.ndim == (5 if segments > 1 else 4)
    # two JPEG decoders: a grey level or so apart at most, in normalised units ~ 1/255/0.225
    assert (made - cpu).abs().mean() < 0.01 and (made - cpu).abs().max() < 0.2


@pytest.fixture(scope="module")
def backward_flow(tiny_archives, tmp_path_factory):
    """The tiny clips' forward and backward flow (the bi-directional stacks read both)."""
    from twostream.flow.extract import extract_flow

    table, frames, _ = tiny_archives
    flow = tmp_path_factory.mktemp("backward") / "flow"
    extract_flow(table, frames, flow, repo_block("flow", backward=True, workers=1))
    return flow


@pytest.mark.parametrize("stacking, length, segments, crops", [
    ("flow", 3, 1, "random"), ("bidirectional", 2, 1, "random"), ("flow", 2, 3, "corners_scales"),
    ("bidirectional", 2, 3, "corners_scales")])
def test_temporal_samples_match_the_cpu_path(tiny_archives, backward_flow, stacking, length, segments,
                                             crops):
    table, flow = tiny_archives[0], backward_flow
    paths, labels = [flow / archive_name(v) for v in table["id"]], list(table["label"])
    data = TemporalTrainSet(paths, labels, input_size=40, stack_length=length, mean_subtraction=True,
                            seed=0, stacking=stacking, segments=segments, crops=crops)
    made, cpu = _compare(data, labels)
    step = 2 * 20.0 / 255  # one code unit of the flow quantisation
    assert (made - cpu).abs().max() < 1.5 * step


def test_trajectory_stacking_keeps_the_cpu_path(tiny_archives):
    table, _, flow = tiny_archives
    data = TemporalTrainSet([flow / archive_name(table["id"][0])], [0], input_size=40,
                            stack_length=3, mean_subtraction=False, seed=0, stacking="trajectory")
    assert raw_dataset(data) is None


def test_a_batch_of_many_jpegs_crosses_from_loader_workers_in_few_tensors():
    """A loader worker passes each tensor through a file descriptor: a temporal batch (B x 2L
    JPEGs) as separate tensors ran out of them ("received 0 items of ancdata"). Run under a low
    open-file limit, where 2 x 300 separate tensors cannot pass."""
    script = textwrap.dedent("""
        import resource, torch
        from torch.utils.data import DataLoader, Dataset
        from twostream.inputs.gpu_decode import collate_raw

        resource.setrlimit(resource.RLIMIT_NOFILE, (96, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))

        class Many(Dataset):
            def __len__(self): return 4
            def __getitem__(self, i):
                jpegs = [torch.full((5 + k % 3,), k % 251, dtype=torch.uint8) for k in range(300)]
                return jpegs, torch.tensor([float(i), 0, 0, 1]), i

        batches = list(DataLoader(Many(), batch_size=2, num_workers=1, collate_fn=collate_raw))
        first = batches[0].jpegs()
        assert len(first) == 2 and len(first[1]) == 300
        assert first[1][7].tolist() == [7] * 6 and batches[1].labels.tolist() == [2, 3]
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr[-2000:]
