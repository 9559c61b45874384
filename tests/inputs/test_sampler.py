import numpy as np

from twostream.inputs.sampler import BalancedBatches


def test_balanced_batches_cover_classes_evenly():
    labels = [0] * 90 + [1] * 10  # imbalanced videos
    batches = list(BalancedBatches(labels, batch_size=100, iterations=20, seed=0))
    drawn = np.array([labels[v] for batch in batches for v, _ in batch])
    assert abs(drawn.mean() - 0.5) < 0.05
    resumed = list(BalancedBatches(labels, batch_size=100, iterations=20, seed=0, start=7))
    assert resumed == batches[7:]


def test_pooled_batches_mix_datasets_in_fixed_shares_balanced_within_each():
    labels = [0] * 50 + [1] * 5 + [2] * 3 + [3] * 40   # classes 0-1: one dataset, 2-3: the other
    sampler = BalancedBatches(labels, 8, 400, seed=1, pools=[([0, 1], 6), ([2, 3], 2)])
    counts = np.zeros(4)
    for batch in sampler:
        picked = [labels[v] for v, _ in batch]
        assert sum(c < 2 for c in picked) == 6
        counts += np.bincount(picked, minlength=4)
    assert abs(counts[0] - counts[1]) / counts[:2].sum() < 0.05  # uniform within a pool
    assert abs(counts[2] - counts[3]) / counts[2:].sum() < 0.08
    # one pool of every class is the plain sampler, draw for draw
    assert list(BalancedBatches(labels, 8, 5, 2)) == list(BalancedBatches(labels, 8, 5, 2, pools=[([0, 1, 2, 3], 8)]))
