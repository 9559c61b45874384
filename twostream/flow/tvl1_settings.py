"""TV-L1's settings, one record for every TV-L1 backend (OpenCV's, OpenCV's CUDA one and the
batched PyTorch one), so that their defaults cannot drift apart.

Light on purpose (no torch, no OpenCV): the flow tool's defaults and the backends' recorded
settings read it without loading a solver.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class TVL1Settings:
    """Defaults are OpenCV's DualTVL1 defaults, the standard settings of two-stream tools; the
    pipeline sets ``epsilon`` and ``scale_step`` from params.yaml (``flow.tvl1_epsilon``,
    ``flow.tvl1_scale_step``)."""
    tau: float = 0.25
    lambda_: float = 0.15
    theta: float = 0.3
    scales: int = 5
    warps: int = 5
    epsilon: float = 0.01
    inner_iterations: int = 30
    outer_iterations: int = 10
    scale_step: float = 0.8     # OpenCV's default since 3.0
    median_filtering: int = 5
    min_size: int = 16          # torch-tvl1: the coarsest level's shorter side (fewer scales on small frames)

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)

    def opencv(self) -> dict[str, Any]:
        """The settings in OpenCV's terms, as its TV-L1 backends record them. ``gamma`` is
        OpenCV's illumination-change term, left off (0) as in its defaults."""
        return {"tau": self.tau, "lambda": self.lambda_, "theta": self.theta, "scales": self.scales,
                "warps": self.warps, "epsilon": self.epsilon,
                "inner_iterations": self.inner_iterations,
                "outer_iterations": self.outer_iterations, "scale_step": self.scale_step,
                "gamma": 0.0, "median_filtering": self.median_filtering}
