"""`twostream predict` gives a dataset video the scores the evaluate stage gives it."""

from pathlib import Path

import numpy as np
import torch
import yaml

from twostream.evaluation.scoring import score_inputs
from twostream.models.model_file import ModelFile
from twostream.training.fit import data_provenance
from twostream.store.zipstore import ArchiveReader, archive_name
from twostream.streams import StreamSpec
from twostream.streams import test_inputs as protocol_inputs

from conftest import repo_block


def _save(spec, classes, archive, path, cell=None):
    torch.manual_seed(len(str(path)))
    model, _ = spec.build(len(classes))
    ModelFile(model.state_dict(), spec.to_dict(), cell or "net", "ucf101", classes, 1, {"amp": False},
              {}, 0, "none", data_provenance(archive), {}, 1, 1, "cpu").save(path)
    return model


def test_predict_reproduces_the_pipeline_scores_and_draws_the_flow(tiny_dataset, tiny_archives, tmp_path):
    from twostream.predict import TrainedStream, predict
    from twostream.datasets.splits import class_names

    table, frames, flow = tiny_archives
    classes = class_names(table)
    video_id, rel = table["id"][0], table["path"][0]
    spatial_spec = StreamSpec("spatial", "cnn_m_2048", 0.1, 48, 0.5)
    temporal_spec = StreamSpec("temporal", "cnn_m_2048", 0.1, 48, 0.5, stack_length=3,
                               mean_subtraction=True)
    spatial_model = _save(spatial_spec, classes, frames / archive_name(video_id), tmp_path / "s.pt")
    temporal_model = _save(temporal_spec, classes, flow / archive_name(video_id), tmp_path / "t.pt")
    protocol = repo_block("evaluate", frames=5, crops=10, batch_size=50)

    result = predict(tiny_dataset / rel, TrainedStream.load(tmp_path / "s.pt"),
                     TrainedStream.load(tmp_path / "t.pt"), protocol, picture=tmp_path / "p.png")

    for model, spec, archive, ours in ((spatial_model, spatial_spec, frames, result.spatial),
                                       (temporal_model, temporal_spec, flow, result.temporal)):
        with ArchiveReader(archive / archive_name(video_id)) as reader:
            inputs, weights = protocol_inputs(spec, reader, protocol)
        expected = score_inputs(model.eval(), inputs, weights, 50, torch.device("cpu"), amp=False)
        assert np.allclose(ours, expected, atol=1e-5)
    top = result.top(3)
    assert len(top) == 3 and top[0][3] >= top[1][3] and abs(sum(result.fused) - 1) < 1e-4
    assert (tmp_path / "p.png").stat().st_size > 0 and result.picture_error is None
    (tmp_path / "dir.png").mkdir()  # a picture that cannot be written: the scores stand
    again = predict(tiny_dataset / rel, TrainedStream.load(tmp_path / "s.pt"),
                    TrainedStream.load(tmp_path / "t.pt"), protocol, picture=tmp_path / "dir.png")
    assert np.array_equal(again.spatial, result.spatial) and "dir.png: picture not written" in again.picture_error


def test_predict_command_names_a_missing_model(tiny_dataset, tiny_archives, tmp_path, capsys):
    from twostream.cli import main

    video = str(tiny_dataset / tiny_archives[0]["path"][0])
    code = main(["predict", video, "--spatial", str(tmp_path / "none.pt"),
                 "--temporal", str(tmp_path / "none.pt"), "--params", str(tmp_path / "no.yaml")])
    assert code == 2 and "none.pt: no model file" in capsys.readouterr().err


def test_missing_and_broken_videos_are_named_before_any_model_loads(tmp_path, capsys, monkeypatch):
    """A typo in a video's name is reported at once, not after the models load (~20 s)."""
    from twostream import predict as predict_module
    from twostream.cli import main

    monkeypatch.setattr(predict_module.TrainedStream, "load", _must_not_load)
    (tmp_path / "junk.mp4").write_bytes(b"not a video at all")
    code = main(["predict", str(tmp_path / "typo.avi"), str(tmp_path / "junk.mp4")])
    err = capsys.readouterr().err
    assert code == 2 and "typo.avi: no such file" in err and "junk.mp4: cannot be decoded" in err


def test_an_output_folder_that_cannot_be_one_is_named_before_any_work(tiny_dataset, tiny_archives,
                                                                        tmp_path, capsys, monkeypatch):
    from twostream import predict as predict_module
    from twostream.cli import main

    monkeypatch.setattr(predict_module.TrainedStream, "load", _must_not_load)
    video = str(tiny_dataset / tiny_archives[0]["path"][0])
    (tmp_path / "afile").write_text("x")
    for flag, where in (("--picture", tmp_path / "afile"), ("--picture", tmp_path / "afile" / "sub")):
        assert main(["predict", video, flag, str(where)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(where) in err and "folder" in err, err
    for where in (tmp_path / "afile", tmp_path / "afile" / "sub", Path("/proc/twostream-out")):
        assert main(["flow", video, "--out", str(where)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"--out {where}" in err, err


def _must_not_load(*_):
    raise AssertionError("models must not load when no video can be read")


def test_wrong_model_files_are_named_in_one_line(tiny_dataset, tiny_archives, tmp_path, capsys):
    """Swapped --spatial/--temporal, a file that is no model, an SVM that is no SVM: one line each
    naming the file and the fix, exit 2, no traceback."""
    from twostream.cli import main
    from twostream.datasets.splits import class_names

    table, frames, flow = tiny_archives
    classes = class_names(table)
    video = str(tiny_dataset / table["path"][0])
    _save(StreamSpec("spatial", "cnn_m_2048", 0.1, 48, 0.5), classes,
          frames / archive_name(table["id"][0]), tmp_path / "s.pt")
    _save(StreamSpec("temporal", "cnn_m_2048", 0.1, 48, 0.5, stack_length=3), classes,
          flow / archive_name(table["id"][0]), tmp_path / "t.pt")
    (tmp_path / "junk.pt").write_bytes(b"\x80\x04garbage")
    no_params = ["--params", str(tmp_path / "absent.yaml")]
    cases = [
        (["--spatial", "t.pt", "--temporal", "s.pt"], "t.pt: a temporal model given as --spatial; "
                                                      "give it as --temporal"),
        (["--spatial", "junk.pt", "--temporal", "t.pt"], "junk.pt: not a model file of this pipeline"),
        (["--spatial", "s.pt", "--temporal", "t.pt", "--svm", "s.pt"], "s.pt: not a fusion SVM file"),
    ]
    for options, message in cases:
        options = [str(tmp_path / o) if o.endswith(".pt") else o for o in options]
        assert main(["predict", video, *options, *no_params]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, err
    (tmp_path / "bad.yaml").write_text("evaluate: {frames: 3\n")
    assert main(["predict", video, "--params", str(tmp_path / "bad.yaml")]) == 2
    assert "bad.yaml: line 2, column 1: not valid YAML" in capsys.readouterr().err


def test_picture_names_do_not_collide():
    from pathlib import Path

    from twostream.cli import picture_names

    names = picture_names([Path("a/clip.avi"), Path("b/clip.avi"), Path("c/other.mp4")], Path("p"))
    assert [n.name for n in names.values()] == ["a_clip.png", "b_clip.png", "other.png"]


def test_predict_command_adds_the_fusion_svm_of_its_pair(tiny_dataset, tiny_archives, tmp_path,
                                                         capsys, monkeypatch):
    """With the fuse stage's SVM the command prints its column and ranks by it; an SVM fitted
    on another pair of nets is refused when named, and left out with a note by default."""
    from conftest import REPO
    from twostream.cli import main
    from twostream.evaluation.fusion import FusionSvm
    from twostream.predict import TrainedStream, load_svm, predict
    from twostream.datasets.splits import class_names

    table, frames, flow = tiny_archives
    classes = class_names(table)
    video_id, rel = table["id"][0], table["path"][0]
    _save(StreamSpec("spatial", "cnn_m_2048", 0.1, 48, 0.5), classes,
          frames / archive_name(video_id), tmp_path / "s.pt", cell="last_layer-0.5")
    _save(StreamSpec("temporal", "cnn_m_2048", 0.1, 48, 0.5, stack_length=3, mean_subtraction=True),
          classes, flow / archive_name(video_id), tmp_path / "t.pt", cell="multitask")
    n = len(classes)
    # An SVM that votes for the last class whatever the scores: the ranking must follow it.
    svm = FusionSvm(np.zeros((n, 2 * n)), np.arange(n, dtype=float), np.arange(n), n, 1.0)
    svm.save(tmp_path / "svm.npz", cells={"spatial": "last_layer-0.5", "temporal": "multitask"},
             classes=classes)
    svm.save(tmp_path / "other.npz", cells={"spatial": "scratch-0.5", "temporal": "multitask"},
             classes=classes)
    spatial, temporal = TrainedStream.load(tmp_path / "s.pt"), TrainedStream.load(tmp_path / "t.pt")
    result = predict(tiny_dataset / rel, spatial, temporal, repo_block("evaluate", frames=3, crops=1),
                     svm=load_svm(tmp_path / "svm.npz", spatial, temporal))
    assert result.top(1)[0][0] == classes[-1] and result.top(1)[0][4] == n - 1

    video = str(tiny_dataset / rel)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["evaluate"].update(frames=3, crops=1)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)  # the default SVM path, models/ucf101/svm/, is empty here
    models = ["--spatial", "s.pt", "--temporal", "t.pt"]
    assert main(["predict", video, *models, "--svm", str(tmp_path / "svm.npz"), "--top", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].split() == ["8", "frames", "decoded", "of", "the", "8", "it", "declares"]
    assert out[2].split() == ["class", "spatial", "temporal", "average", "SVM"]
    assert out[3].split()[0] == classes[-1] and float(out[3].split()[-1]) == n - 1
    assert out[5].startswith("  time: frames ")
    assert main(["predict", video, *models, "--svm", str(tmp_path / "other.npz")]) == 2
    assert ("other.npz: not this pair's SVM: its spatial net is scratch-0.5, not last_layer-0.5"
            in capsys.readouterr().err)
    assert main(["predict", video, *models, "--top", "1"]) == 0  # default SVM path: none here
    captured = capsys.readouterr()
    assert "no SVM column" in captured.err and "SVM" not in captured.out.splitlines()[2]


def test_a_damaged_video_is_scored_with_a_warning_saying_how_much_decoded(tiny_archives, tmp_path,
                                                                           capsys):
    """A real clip cut to 60% of its bytes decodes fewer frames than it declares: the scores say
    so instead of looking as confident as a whole clip's."""
    from conftest import REAL
    from twostream.cli import main
    from twostream.datasets.splits import class_names

    table, frames, flow = tiny_archives
    classes = class_names(table)
    _save(StreamSpec("spatial", "cnn_m_2048", 0.1, 48, 0.5), classes,
          frames / archive_name(table["id"][0]), tmp_path / "s.pt")
    _save(StreamSpec("temporal", "cnn_m_2048", 0.1, 48, 0.5, stack_length=3), classes,
          flow / archive_name(table["id"][0]), tmp_path / "t.pt")
    whole = (REAL / "ucf101/UCF-101/TennisSwing/v_TennisSwing_g14_c03.avi").read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(whole[:int(len(whole) * 0.6)])
    assert main(["predict", str(cut), "--spatial", str(tmp_path / "s.pt"), "--temporal",
                 str(tmp_path / "t.pt"), "--params", str(tmp_path / "absent.yaml")]) == 0
    captured = capsys.readouterr()
    decoded = int(captured.out.splitlines()[1].split()[0])
    assert decoded < 113 and f"{decoded} frames decoded of the 113 it declares" in captured.out
    assert f"WARNING: decoded {decoded} of the 113 frames the file declares" in captured.err
