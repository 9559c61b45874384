import pytest
import torch

from twostream.models.model_file import ModelFile, ModelFileError


def _model(stream="spatial"):
    return ModelFile({"w": torch.arange(3.0)}, {"stream": stream, "arch": "cnn_m_2048"}, "last_layer-0.5",
                     "ucf101", ["A", "B"], 2, {"amp": True}, {"iterations": 60}, 2, "none",
                     {"recipe": {}}, {"kind": "single"}, 10, 1, "cpu")


def test_a_saved_model_loads_as_it_was(tmp_path):
    _model().save(tmp_path / "m" / "split2.pt")
    loaded = ModelFile.load(tmp_path / "m" / "split2.pt", "spatial")
    assert torch.equal(loaded.state_dict["w"], torch.arange(3.0))
    assert (loaded.cell, loaded.split, loaded.classes, loaded.params) == ("last_layer-0.5", 2, ["A", "B"], {"amp": True})
    assert not list((tmp_path / "m").glob("*.tmp"))


def test_wrong_files_are_named_with_the_fix(tmp_path):
    with pytest.raises(ModelFileError, match="none.pt: no model file"):
        ModelFile.load(tmp_path / "none.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match="junk.pt: not a model file of this pipeline"):
        ModelFile.load(tmp_path / "junk.pt")
    torch.save({"state_dict": {}, "spec": {}}, tmp_path / "old.pt")
    with pytest.raises(ModelFileError, match=r"old.pt: .* lacks \['cell'.*retrain"):
        ModelFile.load(tmp_path / "old.pt")
    _model("temporal").save(tmp_path / "t.pt")
    with pytest.raises(ModelFileError, match="a temporal model given as --spatial; give it as --temporal"):
        ModelFile.load(tmp_path / "t.pt", "spatial")
