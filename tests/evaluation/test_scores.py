import numpy as np

from twostream.evaluation.scores import ScoreFile, load_scores, save_scores, split_files


def test_score_files_round_trip_with_unscorable_rows(tmp_path):
    scores = np.array([[0.7, 0.3], [np.nan, np.nan], [0.1, 0.9]], np.float32)
    saved = ScoreFile(np.array(["a", "b", "c"]), np.array([0, 1, 1]), np.array(["train", "test", "test"]),
                      scores, {"cell": "flow10_sub", "classes": ["A", "B"]})
    save_scores(tmp_path / "net" / "split2.npz", saved)
    loaded = load_scores(tmp_path / "net" / "split2.npz")
    assert loaded.meta == saved.meta and np.array_equal(loaded.scores, scores, equal_nan=True)
    ids, labels, values = loaded.side("test")
    assert ids.tolist() == ["b", "c"] and labels.tolist() == [1, 1] and np.isnan(values[0]).all()
    assert not list((tmp_path / "net").glob(".*tmp*"))  # written whole, then renamed


def test_split_files_are_found_by_number_and_nothing_else(tmp_path):
    for name in ("split10.npz", "split2.npz", "split1.npz", "notes.npz", "split3.npz.tmp"):
        (tmp_path / name).write_bytes(b"")
    assert {k: p.name for k, p in split_files(tmp_path).items()} == {
        1: "split1.npz", 2: "split2.npz", 10: "split10.npz"}
