"""Which video each training sample comes from, batch by batch: the paper's class-balanced
sampling, with a seed per sample so that a batch is a function of its index alone."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler

Key = tuple[int, int]  # (video index, sample seed)


class BalancedBatches(Sampler[list[Key]]):
    """Batches of videos drawn uniformly across classes (the paper's sampling), per-batch seeded.

    ``pools`` mixes datasets (multi-task training): each pool is a set of classes and how many
    samples of every batch it gives, uniformly across its own classes; default one pool of all.
    Under data parallelism each of ``world`` ranks takes every ``world``-th sample of each
    global batch, so the ranks together see exactly the batches one process would.
    """

    def __init__(self, labels: Sequence[int], batch_size: int, iterations: int, seed: int,
                 start: int = 0, rank: int = 0, world: int = 1,
                 pools: Sequence[tuple[Sequence[int], int]] | None = None) -> None:
        if batch_size % world:
            raise ValueError(f"batch_size={batch_size} does not split evenly over {world} ranks")
        self.labels = np.asarray(labels)
        present = np.unique(self.labels)
        pools = pools or [(present, batch_size)]
        if sum(n for _, n in pools) != batch_size:
            raise ValueError(f"pools give {sum(n for _, n in pools)} samples, batch_size={batch_size}")
        self.pools = []
        for classes, count in pools:
            classes = [c for c in classes if c in set(present)]
            if count and not classes:
                raise ValueError("a pool of the batch has no training videos")
            self.pools.append(([np.flatnonzero(self.labels == c) for c in classes], count))
        self.batch_size, self.iterations, self.seed, self.start = batch_size, iterations, seed, start
        self.rank, self.world = rank, world

    def __len__(self) -> int:
        return self.iterations - self.start

    def __iter__(self) -> Iterator[list[Key]]:
        for batch in range(self.start, self.iterations):
            rng = np.random.default_rng([self.seed, batch])
            videos = []
            for members, count in self.pools:
                picks = rng.integers(len(members), size=count)
                videos += [int(members[c][rng.integers(len(members[c]))]) for c in picks]
            keys = [(v, batch * self.batch_size + k) for k, v in enumerate(videos)]
            yield keys[self.rank::self.world]
