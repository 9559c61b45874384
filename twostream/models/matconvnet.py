"""Convert MatConvNet's ``imagenet-vgg-m-2048.mat`` (the paper's ImageNet CNN-M-2048) to PyTorch.

MatConvNet stores a SimpleNN: ``layers`` is a list of structs; conv layers hold ``filters`` as
(H, W, C_in, C_out) and ``biases``, either in ``weights = {filters, biases}`` (beta16 and later)
or as fields of their own (earlier releases). full6-8 are convolutions too: full6 a 6x6 filter
over conv5's (H, W, C) map. The network expects RGB pixels in 0-255 minus ``averageImage``
(under ``meta.normalization`` or ``normalization``). Both releases' layouts are read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn


@dataclass
class MatConvNet:
    """The learnable layers in file order, and the RGB mean on 0-255 pixels."""
    layers: list[tuple[str, np.ndarray, np.ndarray]]  # (name, filters H x W x Cin x Cout, biases)
    average_rgb: np.ndarray


def _field(struct: Any, name: str) -> Any:
    return getattr(struct, name) if hasattr(struct, name) else None


def read_matconvnet(path: Path) -> MatConvNet:
    """The conv layers and the average image of a MatConvNet SimpleNN ``.mat`` file."""
    import scipy.io

    try:
        mat = scipy.io.loadmat(str(path), squeeze_me=True, struct_as_record=False)
    except Exception as err:  # scipy raises MatReadError, IndexError, ValueError... on junk
        raise ValueError(f"{path}: not a readable MatConvNet .mat file ({err})") from None
    if "layers" not in mat:
        raise ValueError(f"{path}: no 'layers' variable; expected a MatConvNet SimpleNN model "
                         f"such as imagenet-vgg-m-2048.mat")
    layers = []
    for layer in np.atleast_1d(mat["layers"]):
        if str(_field(layer, "type")) != "conv":
            continue
        weights = _field(layer, "weights")
        if weights is not None and len(np.atleast_1d(weights)) == 2:
            filters, biases = np.atleast_1d(weights)
        else:
            filters, biases = _field(layer, "filters"), _field(layer, "biases")
        if filters is None or biases is None:
            raise ValueError(f"{path}: conv layer {_field(layer, 'name')!r} has no filters/biases")
        layers.append((str(_field(layer, "name")), np.asarray(filters, np.float32),
                       np.asarray(biases, np.float32).reshape(-1)))
    meta = mat.get("meta")
    norm = _field(meta, "normalization") if meta is not None else mat.get("normalization")
    average = _field(norm, "averageImage") if norm is not None else None
    if average is None:
        raise ValueError(f"{path}: no normalization.averageImage; cannot tell the input mean")
    average = np.asarray(average, np.float32)
    average_rgb = average.reshape(-1, 3).mean(axis=0) if average.size >= 3 else np.repeat(average, 3)
    return MatConvNet(layers, average_rgb)


def _torch_weight(filters: np.ndarray, target: torch.Tensor, grid: int, name: str) -> torch.Tensor:
    """(H, W, Cin, Cout) filters -> a Conv2d (Cout, Cin, H, W) or Linear (Cout, Cin*H*W) weight.

    loadmat's ``squeeze_me`` drops singleton axes (full7 is 1x1x4096x2048), so the filter is
    first reshaped to its full 4-d form; dropping or adding size-1 axes keeps element order.
    """
    if target.dim() == 4:
        cout, cin, kh, kw = target.shape
    else:
        cout, cin, kh, kw = target.shape[0], target.shape[1] // (grid * grid), grid, grid
    if filters.size != cout * cin * kh * kw:
        raise ValueError(f"layer {name}: {filters.shape} filters do not fit a {tuple(target.shape)} "
                         f"weight")
    full = filters.reshape(kh, kw, cin, cout).transpose(3, 2, 0, 1)  # -> (Cout, Cin, H, W)
    return torch.from_numpy(np.ascontiguousarray(full)).reshape(target.shape)


def load_into(model: nn.Module, net: MatConvNet) -> None:
    """Copy ``net``'s conv1-5 and full6-8 into an ImageNet-shaped :class:`CNNM2048`."""
    learnable = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    if len(learnable) != len(net.layers):
        raise ValueError(f"the file has {len(net.layers)} conv/full layers, CNN-M-2048 has "
                         f"{len(learnable)}")
    last_channels = 0
    for module, (name, filters, biases) in zip(learnable, net.layers):
        grid = 1
        if isinstance(module, nn.Linear) and last_channels:
            grid = int(round((module.in_features / last_channels) ** 0.5))
            last_channels = 0  # only full6 sees a spatial map
        if isinstance(module, nn.Conv2d):
            last_channels = module.out_channels
        with torch.no_grad():
            module.weight.copy_(_torch_weight(filters, module.weight, grid, name))
            if biases.size != module.bias.numel():
                raise ValueError(f"layer {name}: {biases.size} biases for {module.bias.numel()} outputs")
            module.bias.copy_(torch.from_numpy(biases))
