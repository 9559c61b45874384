import numpy as np
import pytest

from twostream.evaluation.late_fusion import PairingError, PairScores, fuse_split
from twostream.evaluation.scores import ScoreFile

from conftest import repo_block

RNG = np.random.default_rng(0)
FUSION = repo_block("fusion", svm_c=(0.1, 1.0), svm_folds=2, spatial="last_layer", temporal="multitask",
                      hmdb_temporal="multitask")


def _file(ids, labels, side, cell, informative):
    """Softmax-like scores: ``informative`` streams put 0.7 on the true class, others are noise."""
    scores = RNG.dirichlet(np.ones(3), len(ids))
    if informative:
        scores = 0.3 * scores + 0.7 * np.eye(3)[labels]
    return ScoreFile(np.array(ids), np.array(labels), np.array([side] * len(ids)), scores,
                     {"cell": cell, "classes": ["A", "B", "C"]})


def _pair(test_ids=None, train_cell="flow10_sub"):
    train_ids, train_labels = [f"t{i}" for i in range(30)], [i % 3 for i in range(30)]
    ids, labels = [f"v{i}" for i in range(9)], [i % 3 for i in range(9)]
    return PairScores(_file(ids, labels, "test", "last_layer-0.5", False),
                      _file(test_ids or ids, labels, "test", "flow10_sub", True),
                      _file(train_ids, train_labels, "train", "last_layer-0.5", False),
                      _file(train_ids, train_labels, "train", train_cell, True))


def test_fusion_averages_the_test_scores_and_fits_the_svm_on_training_videos():
    pair = _pair()
    fused = fuse_split(pair, 1, FUSION, {"spatial": "x", "temporal": "y"})
    np.testing.assert_allclose(fused.scores["average"], (pair.spatial.scores + pair.temporal.scores) / 2)
    assert (fused.scores["svm"].argmax(1) == fused.labels).all()  # the SVM learns to trust temporal
    assert fused.meta["cells"] == {"spatial": "last_layer-0.5", "temporal": "flow10_sub"}
    assert fused.meta["svm"]["C"] in (0.1, 1.0) and fused.meta["split"] == 1


def test_pairs_that_do_not_belong_together_fail():
    with pytest.raises(PairingError, match="different test videos"):
        fuse_split(_pair(test_ids=[f"w{i}" for i in range(9)]), 2, FUSION, {})
    with pytest.raises(PairingError, match="split 3: training scores come from other cells"):
        fuse_split(_pair(train_cell="flow5_sub"), 3, FUSION, {})
