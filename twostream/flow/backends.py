"""Dense optical flow backends: name -> function of two grayscale frames (or of many pairs).

Each backend returns float32 (H, W, 2) displacements (d_x, d_y) in pixels from ``prev`` to
``next`` and states the algorithm parameters it used, which the flow stage writes into every
video's metadata so a report can say what actually ran.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from twostream.config import FLOW_BACKENDS
from twostream.flow.tvl1_settings import TVL1Settings

FlowFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
BatchFlowFn = Callable[[list[np.ndarray], list[np.ndarray]], list[np.ndarray]]

FARNEBACK_DEFAULTS = {"pyr_scale": 0.5, "levels": 3, "winsize": 15, "iterations": 3,
                      "poly_n": 5, "poly_sigma": 1.2}


@dataclass(frozen=True)
class FlowBackend:
    name: str
    compute: FlowFn
    settings: dict[str, Any] = field(default_factory=dict)
    compute_batch: BatchFlowFn | None = None  # many pairs per call (GPU-friendly backends)

    def many(self, prevs: list[np.ndarray], nexts: list[np.ndarray]) -> list[np.ndarray]:
        """Flow for each (prev, next) pair, batched when the backend can."""
        if self.compute_batch is not None:
            return self.compute_batch(prevs, nexts)
        return [self.compute(a, b) for a, b in zip(prevs, nexts)]


def _opencv_tvl1(epsilon: float, scale_step: float) -> FlowBackend:
    if not hasattr(cv2, "optflow"):
        raise RuntimeError("flow.backend=opencv-tvl1 needs cv2.optflow: "
                           "pip install opencv-contrib-python-headless")
    s = TVL1Settings(epsilon=epsilon, scale_step=scale_step).opencv()
    solver = cv2.optflow.DualTVL1OpticalFlow_create(
        tau=s["tau"], lambda_=s["lambda"], theta=s["theta"], nscales=s["scales"],
        warps=s["warps"], epsilon=s["epsilon"], innnerIterations=s["inner_iterations"],
        outerIterations=s["outer_iterations"], scaleStep=s["scale_step"], gamma=s["gamma"],
        medianFiltering=s["median_filtering"])

    def compute(prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        return solver.calc(prev, nxt, None).astype(np.float32, copy=False)

    return FlowBackend("opencv-tvl1", compute, dict(s))


def _opencv_farneback() -> FlowBackend:
    s = FARNEBACK_DEFAULTS

    def compute(prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        return cv2.calcOpticalFlowFarneback(prev, nxt, None, s["pyr_scale"], s["levels"],
                                            s["winsize"], s["iterations"], s["poly_n"],
                                            s["poly_sigma"], 0)

    return FlowBackend("opencv-farneback", compute, dict(s))


# DIS (Kroeger et al. 2016): patch search plus variational refinement; OpenCV's medium preset.
DIS_DEFAULTS = {"preset": "medium"}
_DIS_PRESETS = {"ultrafast": "DISOPTICAL_FLOW_PRESET_ULTRAFAST", "fast": "DISOPTICAL_FLOW_PRESET_FAST",
                "medium": "DISOPTICAL_FLOW_PRESET_MEDIUM"}


def _opencv_dis() -> FlowBackend:
    """OpenCV's DIS flow: two orders of magnitude faster than TV-L1 on the CPU, and on real
    photographs more accurate (bench/flow.py), so it is the fast CPU choice."""
    s = DIS_DEFAULTS
    solver = cv2.DISOpticalFlow_create(getattr(cv2, _DIS_PRESETS[s["preset"]]))

    def compute(prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        return solver.calc(prev, nxt, None).astype(np.float32, copy=False)

    return FlowBackend("opencv-dis", compute, dict(s))


BROX_DEFAULTS = {"alpha": 0.197, "gamma": 50.0, "scale_factor": 0.8, "inner_iterations": 5,
                 "outer_iterations": 150, "solver_iterations": 10}


def _require_opencv_cuda(name: str) -> None:
    count = cv2.cuda.getCudaEnabledDeviceCount() if hasattr(cv2, "cuda") else 0
    if count == 0:
        raise RuntimeError(
            f"flow.backend={name} needs OpenCV built with CUDA and a GPU; this cv2 "
            f"({cv2.__version__}) sees {count} CUDA devices (the PyPI wheels have no CUDA). "
            f"Use flow.backend=torch-tvl1 (TV-L1 on the GPU through PyTorch, no build needed), or "
            f"build opencv-contrib with -DWITH_CUDA=ON")


def _opencv_cuda(name: str, create: Callable[[], Any], settings: dict[str, Any],
                 unit_range: bool) -> FlowBackend:
    solver = create()

    def compute(prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        scale = 1.0 / 255.0 if unit_range else 1.0  # Brox works on [0, 1] float images
        a, b = cv2.cuda_GpuMat(), cv2.cuda_GpuMat()
        a.upload(prev.astype(np.float32) * scale)
        b.upload(nxt.astype(np.float32) * scale)
        return solver.calc(a, b, None).download().astype(np.float32, copy=False)

    return FlowBackend(name, compute, dict(settings))


def _opencv_cuda_brox() -> FlowBackend:
    _require_opencv_cuda("opencv-cuda-brox")
    s = BROX_DEFAULTS
    return _opencv_cuda("opencv-cuda-brox", lambda: cv2.cuda_BroxOpticalFlow.create(
        s["alpha"], s["gamma"], s["scale_factor"], s["inner_iterations"], s["outer_iterations"],
        s["solver_iterations"]), s, unit_range=True)


def _opencv_cuda_tvl1(epsilon: float, scale_step: float) -> FlowBackend:
    _require_opencv_cuda("opencv-cuda-tvl1")
    s = TVL1Settings(epsilon=epsilon, scale_step=scale_step).opencv()
    return _opencv_cuda("opencv-cuda-tvl1", lambda: cv2.cuda_OpticalFlowDual_TVL1.create(
        s["tau"], s["lambda"], s["theta"], s["scales"], s["warps"], s["epsilon"],
        s["inner_iterations"] * s["outer_iterations"], s["scale_step"], s["gamma"]), s,
        unit_range=False)


def _torch_tvl1(compile: bool, epsilon: float, scale_step: float) -> FlowBackend:
    import torch

    from twostream.flow.tvl1 import EAGER, compiled_kernels, tvl1_flow

    settings = TVL1Settings(epsilon=epsilon, scale_step=scale_step)
    # Under torchrun each local rank drives its own GPU.
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device(f"cuda:{local_rank % torch.cuda.device_count()}" if torch.cuda.is_available()
                          else "cpu")
    kernels = compiled_kernels() if compile else EAGER

    def compute_batch(prevs: list[np.ndarray], nexts: list[np.ndarray]) -> list[np.ndarray]:
        a = torch.from_numpy(np.stack(prevs)).to(device)
        b = torch.from_numpy(np.stack(nexts)).to(device)
        flow = tvl1_flow(a, b, settings, kernels=kernels).permute(0, 2, 3, 1).contiguous().cpu().numpy()
        return list(flow)

    def compute(prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        return compute_batch([prev], [nxt])[0]

    return FlowBackend("torch-tvl1", compute,
                       {**settings.as_dict(), "device": device.type, "compiled": compile}, compute_batch)


# Each flow.backend name of params.yaml (twostream.config.FLOW_BACKENDS) but ``auto`` is built by
# the function of the same name above: opencv-dis -> _opencv_dis.
BACKENDS: dict[str, Callable[..., FlowBackend]] = {
    name: globals()["_" + name.replace("-", "_")] for name in FLOW_BACKENDS if name != "auto"}


def can_compile_for_cpu() -> bool:
    """Whether torch.compile can build CPU kernels here: a C++ compiler (inductor's search) and
    Python's headers. Without them it falls back to eager PyTorch, slower than OpenCV."""
    import sysconfig

    try:
        from torch._inductor.cpp_builder import get_cpp_compiler

        get_cpp_compiler()
    except Exception:  # noqa: BLE001 - any failure to find one means no compiling
        return False
    return (Path(sysconfig.get_paths()["include"]) / "Python.h").is_file()


def resolve_auto(compile: bool) -> str:
    """``auto``: the batched PyTorch TV-L1 on a CUDA GPU, and on the CPU too where it can be
    compiled (``compile`` true and :func:`can_compile_for_cpu`), else OpenCV's TV-L1.

    On the CPU, compiled, torch-tvl1 gives OpenCV's endpoint error at 2.3x its speed per core
    at the pipeline's settings and 3.1x at OpenCV's defaults (32 real 320x240 pairs,
    bench/flow.py, 2026-12-04), for a one-off compile of seconds per process. Eager it is
    slower than OpenCV, so without a compiler ``auto`` stays OpenCV's.

    Not DIS on the CPU, though on real frames warped by smooth known fields it has a third of
    TV-L1's endpoint error at a sixteenth of the time (bench/flow.py): the temporal stream
    trained on its flow scored lower in every comparison that decides it (bench/RESULTS.md,
    2026-12-02): real footage, 3 splits, flow10_sub 38.6% vs 40.0%, trajectory10_sub 44.0% vs
    45.8%; the default run's 7 Table 1b nets 35.7% vs 40.5% on average. Endpoint error does
    not explain it: with an object moving over a still real scene (bench/flow.py --source
    objects) DIS's error at the motion boundary equals TV-L1's and is lower overall. What in
    DIS's fields the net finds less useful is not established; flow.backend=opencv-dis is the
    fast choice where that trade is wanted.
    """
    import torch

    if torch.cuda.is_available() or (compile and can_compile_for_cpu()):
        return "torch-tvl1"
    return "opencv-tvl1"


def make_backend(name: str, *, compile: bool, epsilon: float, scale_step: float) -> FlowBackend:
    """Instantiate a backend by its params.yaml name (``flow.backend``).

    ``compile`` fuses torch-tvl1's iteration with torch.compile; ``epsilon`` and ``scale_step``
    are the TV-L1 backends' stopping threshold and pyramid step (``flow.tvl1_epsilon``,
    ``flow.tvl1_scale_step``); other backends ignore them. All are required: their values live
    in params.yaml, not here.
    """
    if name == "auto":
        name = resolve_auto(compile)
    if name not in BACKENDS:
        raise ValueError(f"flow.backend={name!r}: must be one of {['auto', *sorted(BACKENDS)]}")
    if name == "torch-tvl1":
        return BACKENDS[name](compile=compile, epsilon=epsilon, scale_step=scale_step)
    return BACKENDS[name](epsilon=epsilon, scale_step=scale_step) if "tvl1" in name else BACKENDS[name]()


def to_gray(frame: np.ndarray) -> np.ndarray:
    return frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
