"""`twostream predict` gives a dataset video the scores the evaluate stage gives it."""

import numpy as np
import torch

from twostream.config import EvaluateParams
from twostream.evaluate import score_inputs
from twostream.fit import data_provenance
from twostream.store import ArchiveReader, archive_name
from twostream.streams import StreamSpec
from twostream.streams import test_inputs as protocol_inputs


def _save(spec, classes, archive, path):
    torch.manual_seed(len(str(path)))
    model, _ = spec.build(len(classes))
    torch.save({"state_dict": model.state_dict(), "spec": spec.to_dict(), "classes": classes,
                "data": data_provenance(archive)}, path)
    return model


def test_predict_reproduces_the_pipeline_scores_and_draws_the_flow(tiny_dataset, tiny_archives, tmp_path):
    from twostream.predict import TrainedStream, predict
    from twostream.splits import class_names

    table, frames, flow = tiny_archives
    classes = class_names(table)
    video_id, rel = table["id"][0], table["path"][0]
    spatial_spec = StreamSpec("spatial", "cnn_m_2048", 0.1, 48, 0.5)
    temporal_spec = StreamSpec("temporal", "cnn_m_2048", 0.1, 48, 0.5, stack_length=3,
                               mean_subtraction=True)
    spatial_model = _save(spatial_spec, classes, frames / archive_name(video_id), tmp_path / "s.pt")
    temporal_model = _save(temporal_spec, classes, flow / archive_name(video_id), tmp_path / "t.pt")
    protocol = EvaluateParams(frames=5, crops=10, batch_size=50)

    result = predict(tiny_dataset / rel, TrainedStream.load(tmp_path / "s.pt"),
                     TrainedStream.load(tmp_path / "t.pt"), protocol, picture=tmp_path / "p.png")

    for model, spec, archive, ours in ((spatial_model, spatial_spec, frames, result.spatial),
                                       (temporal_model, temporal_spec, flow, result.temporal)):
        with ArchiveReader(archive / archive_name(video_id)) as reader:
            inputs, weights = protocol_inputs(spec, reader, protocol)
        expected = score_inputs(model.eval(), inputs, weights, 50, torch.device("cpu"))
        assert np.allclose(ours, expected, atol=1e-5)
    top = result.top(3)
    assert len(top) == 3 and top[0][3] >= top[1][3] and abs(sum(result.fused) - 1) < 1e-4
    assert (tmp_path / "p.png").stat().st_size > 0


def test_predict_command_names_a_missing_model(tmp_path, capsys):
    from twostream.cli import main

    code = main(["predict", str(tmp_path / "v.avi"), "--spatial", str(tmp_path / "none.pt"),
                 "--temporal", str(tmp_path / "none.pt")])
    assert code == 2 and "none.pt: no model file" in capsys.readouterr().err
