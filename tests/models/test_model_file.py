import dataclasses

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


def _flip(path, offset, count=64):
    data = bytearray(path.read_bytes())
    for i in range(offset, offset + count):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_damaged_or_truncated_model_file_fails_naming_it(tmp_path):
    model = dataclasses.replace(_model(), state_dict={"w": torch.arange(4096.0)})
    path = tmp_path / "split1.pt"
    model.save(path)
    good = path.read_bytes()
    weights_at = good.index(torch.arange(4096.0).numpy().tobytes()[:64])
    _flip(path, weights_at + 1000)  # bytes of the weights: torch.load alone reads them happily
    assert torch.load(path, weights_only=True)["state_dict"]["w"].sum() != torch.arange(4096.0).sum()
    with pytest.raises(ModelFileError, match="split1.pt: damaged: its weights or metadata"):
        ModelFile.load(path)
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(ModelFileError, match="split1.pt: damaged or truncated"):
        ModelFile.load(path)
    path.write_bytes(good)
    assert torch.equal(ModelFile.load(path).state_dict["w"], torch.arange(4096.0))


class _Payload:
    """What a hostile model file pickles: loading it with weights_only=False would call os.system."""

    def __reduce__(self):
        import os
        return (os.system, ("touch HACKED",))


def test_a_model_file_that_carries_code_is_not_loaded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    payload = {k: v for k, v in _model().__dict__.items()} | {"checksum": "x", "extra": _Payload()}
    torch.save(payload, tmp_path / "hostile.pt")
    with pytest.raises(ModelFileError, match="hostile.pt: not loaded: it holds .*system"):
        ModelFile.load(tmp_path / "hostile.pt")
    assert not (tmp_path / "HACKED").exists()
