import torch

from twostream.models.normalise import IMAGENET_MEAN, IMAGENET_STD, InputNorm


def _imagenet_normalised(pixels: torch.Tensor) -> torch.Tensor:
    return (pixels - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)


def test_input_norm_converts_imagenet_normalised_samples_to_a_backbones_own():
    pixels = torch.rand(2, 3, 4, 5)  # 0-1 RGB
    norm = InputNorm()
    assert torch.allclose(norm(_imagenet_normalised(pixels)), _imagenet_normalised(pixels))  # identity
    mean, std = (0.5, 0.4, 0.3), (0.25, 0.5, 1.0)  # e.g. EfficientNet-Lite's 127/255, 128/255
    norm.expect(mean, std)
    want = (pixels - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    assert torch.allclose(norm(_imagenet_normalised(pixels)), want, atol=1e-5)
    # The constants travel in the state dict, so a saved model needs no weights file to score.
    other = InputNorm()
    other.load_state_dict(norm.state_dict())
    assert torch.allclose(other(_imagenet_normalised(pixels)), want, atol=1e-5)
