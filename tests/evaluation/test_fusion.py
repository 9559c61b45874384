import numpy as np

from twostream.evaluation.scores import accuracy
from twostream.evaluation.fusion import average_fusion, fit_fusion_svm, l2_normalise


def svm_fusion(train_streams, train_labels, test_streams, c):
    """Fit on the training scores, score the test ones (what the fuse stage does per split)."""
    svm, choice = fit_fusion_svm(train_streams, train_labels, c)
    return svm.scores(*test_streams), choice


def _streams(n_per_class=30, seed=0):
    """Class = (a, m): stream A knows a, stream B knows m, neither alone knows the class."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(4), n_per_class)
    a, m = labels // 2, labels % 2
    spatial = np.zeros((len(labels), 4))
    temporal = np.zeros((len(labels), 4))
    for c in range(4):
        spatial[:, c] = (c // 2 == a) + rng.normal(0, 0.2, len(labels))
        temporal[:, c] = (c % 2 == m) + rng.normal(0, 0.2, len(labels))
    soft = lambda s: np.exp(4 * s) / np.exp(4 * s).sum(1, keepdims=True)
    return soft(spatial), soft(temporal), labels


def test_svm_fusion_beats_each_stream_on_complementary_scores():
    s_train, t_train, y_train = _streams(seed=0)
    s_test, t_test, y_test = _streams(seed=1)
    fused, choice = svm_fusion((s_train, t_train), y_train, (s_test, t_test), c=1.0)
    assert choice["C"] == 1.0 and choice["validation_accuracy"] == {}
    assert choice["converged"] and 0 < choice["iterations"] < 100_000
    acc = accuracy(fused, y_test)
    assert acc > 0.9
    assert acc > accuracy(s_test, y_test) + 0.3 and acc > accuracy(t_test, y_test) + 0.3
    best_single = max(accuracy(s_test, y_test), accuracy(t_test, y_test))
    assert accuracy(average_fusion(s_test, t_test), y_test) > best_single + 0.1


def test_unscorable_videos_count_as_wrong():
    scores = np.array([[0.9, 0.1], [np.nan, np.nan]])
    assert accuracy(scores, np.array([0, 1])) == 0.5


def test_l2_normalise_rows():
    out = l2_normalise(np.array([[3.0, 4.0], [0.0, 0.0]]))
    assert np.allclose(out[0], [0.6, 0.8]) and np.all(out[1] == 0)


def test_svm_c_is_chosen_by_cross_validation_on_training_videos_only():
    from twostream.evaluation.fusion import choose_svm_c, svm_features

    s_train, t_train, y_train = _streams(seed=0)
    s_test, t_test, y_test = _streams(seed=1)
    features = svm_features(s_train, t_train)
    c, validation = choose_svm_c(features, y_train, (1e-4, 1.0, 100.0), folds=5)
    assert set(validation) == {1e-4, 1.0, 100.0}
    best = max(validation.values())
    assert validation[c] == best and c == min(k for k, v in validation.items() if v == best)
    fused, choice = svm_fusion((s_train, t_train), y_train, (s_test, t_test), c=(1e-4, 1.0, 100.0))
    assert choice["C"] == c and accuracy(fused, y_test) > 0.9
    # Test scores never enter the choice: the same training data gives the same C.
    _, again = svm_fusion((s_train, t_train), y_train, (s_test[::-1], t_test), c=(1e-4, 1.0, 100.0))
    assert again == choice


def test_too_few_videos_per_class_for_two_folds_uses_the_first_candidate():
    from twostream.evaluation.fusion import choose_svm_c

    features = np.eye(3)
    assert choose_svm_c(features, np.array([0, 1, 2]), (0.5, 2.0), folds=5) == (0.5, {})


def test_saved_fusion_svm_scores_as_the_fitted_estimator(tmp_path):
    """The fuse stage's SVM file gives `predict` the decision values sklearn gives, also with a
    class that had no training video (-inf) and a NaN (unscorable) row."""
    from twostream.evaluation.fusion import FusionSvm, crammer_singer_svm, fit_fusion_svm, svm_features

    s_train, t_train, y_train = _streams(seed=0)
    s_test, t_test, _ = _streams(seed=1)
    keep = y_train != 3  # class 3 has no training video
    svm, choice = fit_fusion_svm((s_train[keep], t_train[keep]), y_train[keep], c=1.0)
    svm.save(tmp_path / "split1.npz", cells={"spatial": "a", "temporal": "b"})
    loaded, meta = FusionSvm.load(tmp_path / "split1.npz")
    assert meta == {"cells": {"spatial": "a", "temporal": "b"}} and loaded.C == choice["C"] == 1.0
    reference = crammer_singer_svm(1.0, 0).fit(svm_features(s_train[keep], t_train[keep]), y_train[keep])
    t_test[0] = np.nan
    ours = loaded.scores(s_test, t_test)
    assert ours.shape == (len(s_test), 4) and np.isnan(ours[0]).all()
    expected = reference.decision_function(svm_features(s_test[1:], t_test[1:]))
    assert np.allclose(ours[1:, :3], expected, atol=1e-5) and np.all(ours[1:, 3] == -np.inf)
    assert np.allclose(loaded.scores(s_test[1], t_test[1]), ours[1:2])  # one video, 1-D scores


def test_a_damaged_or_truncated_svm_file_fails_naming_it(tmp_path):
    import pytest

    from twostream.evaluation.fusion import FusionSvm, SvmFileError

    s_train, t_train, y_train = _streams(seed=0)
    svm, _ = fit_fusion_svm((s_train, t_train), y_train, c=1.0)
    path = tmp_path / "split1.npz"
    svm.save(path, cells={})
    good = path.read_bytes()
    at = good.index(b"coef.npy") + len("coef.npy") + 128 + 32  # past the .npy header: coefficients
    path.write_bytes(good[:at] + bytes(b ^ 0xFF for b in good[at:at + 16]) + good[at + 16:])
    with pytest.raises(SvmFileError, match="split1.npz: damaged or truncated"):
        FusionSvm.load(path)
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(SvmFileError, match="split1.npz: "):
        FusionSvm.load(path)


def test_fusion_svm_refuses_scores_of_other_classes():
    import pytest

    from twostream.evaluation.fusion import fit_fusion_svm

    s_train, t_train, y_train = _streams(seed=0)
    svm, _ = fit_fusion_svm((s_train, t_train), y_train, c=1.0)
    with pytest.raises(ValueError, match="other classes"):
        svm.scores(s_train[:, :3], t_train[:, :3])


def test_two_class_svm_ranks_as_the_fitted_estimator():
    """scikit-learn keeps one row for two classes; the saved SVM still scores both."""
    from twostream.evaluation.fusion import crammer_singer_svm, fit_fusion_svm, svm_features

    s_train, t_train, y_train = _streams(seed=0)
    s_test, t_test, y_test = _streams(seed=1)
    two, two_test = y_train < 2, y_test < 2
    svm, _ = fit_fusion_svm((s_train[two], t_train[two]), y_train[two], c=1.0)
    ours = svm.scores(s_test[two_test], t_test[two_test])
    reference = crammer_singer_svm(1.0, 0).fit(svm_features(s_train[two], t_train[two]), y_train[two])
    margin = reference.decision_function(svm_features(s_test[two_test], t_test[two_test]))
    assert np.allclose(ours[:, 1] - ours[:, 0], margin, atol=1e-5)
    assert np.all(ours[:, 2:] == -np.inf)
    assert np.array_equal(ours.argmax(1), reference.predict(svm_features(s_test[two_test], t_test[two_test])))


def test_cross_validation_in_parallel_processes_chooses_as_in_one():
    from twostream.evaluation.fusion import choose_svm_c, svm_features

    s_train, t_train, y_train = _streams(seed=2)
    features = svm_features(s_train, t_train)
    serial = choose_svm_c(features, y_train, (1e-3, 0.1, 10.0), folds=3, workers=1)
    assert choose_svm_c(features, y_train, (1e-3, 0.1, 10.0), folds=3, workers=2) == serial
    assert set(serial[1]) == {1e-3, 0.1, 10.0}


def test_liblinear_crammer_singer_ignores_max_iter_so_the_cap_is_its_own():
    """Why CRAMMER_SINGER_MAX_ITER is liblinear's fixed 100,000: a smaller max_iter is not
    applied (the fit runs on), it only makes scikit-learn warn of non-convergence."""
    import warnings

    from sklearn.svm import LinearSVC

    from twostream.evaluation.fusion import CRAMMER_SINGER_MAX_ITER

    rng = np.random.default_rng(0)
    features, labels = rng.normal(size=(300, 10)), rng.integers(0, 5, 300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        svm = LinearSVC(multi_class="crammer_singer", C=10.0, max_iter=3, random_state=0)
        svm.fit(features, labels)
    assert 3 < int(np.max(svm.n_iter_)) < CRAMMER_SINGER_MAX_ITER == 100_000


def test_weighted_fusion_averages_softmax_scores_with_the_weights():
    """TSN's 1 : 1.5 on two softmax score vectors: the weighted mean of the probabilities (a
    distribution again), which picks another class than the same weights on the logits."""
    logits_s, logits_t = np.array([[0.0, 3.0, 0.0]]), np.array([[2.0, 0.0, 1.5]])
    softmax = lambda x: np.exp(x) / np.exp(x).sum(1, keepdims=True)  # noqa: E731
    s, t = softmax(logits_s).astype(np.float32), softmax(logits_t).astype(np.float32)
    fused = average_fusion(s, t, weights=(1.0, 1.5))
    assert np.allclose(fused, (s + 1.5 * t) / 2.5) and np.allclose(fused.sum(1), 1.0)
    on_logits = softmax(logits_s + 1.5 * logits_t)
    assert fused.argmax() != on_logits.argmax()
    assert np.array_equal(average_fusion(s, t, weights=(2.0, 2.0)), average_fusion(s, t))
