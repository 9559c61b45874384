"""TV-L1 optical flow (Zach, Pock & Bischof 2007) in PyTorch, batched over frame pairs.

The same scheme as OpenCV's DualTVL1 (and Sanchez et al., IPOL 2013): a coarse-to-fine pyramid;
at each scale a few warps linearise the brightness constancy term around the current flow; for
each warp the primal-dual iterations alternate a pointwise thresholding step (the L1 data term),
a TV step through the dual variables (Chambolle's projection), and a median filter on the flow
before every ``inner_iterations`` (the first included, as OpenCV does). Intensities are on
the 0-255 scale the defaults were tuned for.

Everything is a tensor operation over a batch of pairs (one (B, H, W) plane per variable), so a
GPU computes hundreds of pairs per call; on the CPU the batch shares one set of kernel launches.
The stopping test is OpenCV's (mean squared update below ``epsilon**2``), per pair and per
iteration: a pair stops at the iteration OpenCV would stop it at, is frozen from there on, and
frozen pairs leave the batch in groups. On a GPU the iterations run in blocks of ten between two
reads of the test (one device sync per block): the same fields as one iteration at a time.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from twostream.flow.tvl1_settings import TVL1Settings

log = logging.getLogger(__name__)


def _centered_gradient(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Central differences inside, one-sided zero at the border (as OpenCV's centeredGradient)."""
    padded = F.pad(image, (1, 1, 1, 1), mode="replicate")
    gx = 0.5 * (padded[..., 1:-1, 2:] - padded[..., 1:-1, :-2])
    gy = 0.5 * (padded[..., 2:, 1:-1] - padded[..., :-2, 1:-1])
    return gx, gy


def _forward_gradient(u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward differences, zero on the last column / row."""
    gx = F.pad(u[..., :, 1:] - u[..., :, :-1], (0, 1, 0, 0))
    gy = F.pad(u[..., 1:, :] - u[..., :-1, :], (0, 0, 0, 1))
    return gx, gy


def _divergence(px: torch.Tensor, py: torch.Tensor) -> torch.Tensor:
    """Backward differences: the negative adjoint of :func:`_forward_gradient` for the duals the
    solver keeps, whose x part is zero on the last column and y part on the last row (they start
    at zero and the gradient there is zero, so the dual step keeps them zero): ``p`` at the
    first column, ``-p`` of the one before at the last, as OpenCV's divergence. Using that, one
    shift per direction, not two: compiled, two boundary masks fewer per pixel (3% of the
    iteration)."""
    dx = px - F.pad(px[..., :, :-1], (1, 0))
    dy = py - F.pad(py[..., :-1, :], (0, 0, 1, 0))
    return dx + dy


def _warp(image: torch.Tensor, u1: torch.Tensor, u2: torch.Tensor, xs: torch.Tensor,
          ys: torch.Tensor) -> torch.Tensor:
    """Sample ``image`` (B, C, H, W) at (x + u1, y + u2) (``xs``, ``ys``: the pixel grid):
    bicubic, zero outside the frame.

    As OpenCV's DualTVL1 warps (remap, bicubic, constant zero border): where the flow leaves the
    frame the warped gradient is zero and so is the data term, leaving the pixel to the TV term.
    Replicating the border instead fed those pixels the edge's intensities and cost 1% endpoint
    error on real photographs (bench/flow.py). On the CPU OpenCV's remap (bicubic at 1/32-pixel
    steps) over the C channels at once is 2x faster than grid_sample; elsewhere, grid_sample.
    """
    map_x, map_y = xs + u1, ys + u2  # absolute pixel positions, (B, H, W)
    if image.device.type == "cpu":
        planes = image.permute(0, 2, 3, 1).contiguous().numpy()  # no copy if channels-last
        maps_x, maps_y = map_x.numpy(), map_y.numpy()
        out = np.empty_like(planes)
        for i in range(len(planes)):
            cv2.remap(planes[i], maps_x[i], maps_y[i], cv2.INTER_CUBIC, dst=out[i],
                      borderMode=cv2.BORDER_CONSTANT)
        return torch.from_numpy(out).permute(0, 3, 1, 2)
    height, width = image.shape[-2:]
    grid = torch.stack([map_x * (2.0 / max(width - 1, 1)) - 1.0,
                        map_y * (2.0 / max(height - 1, 1)) - 1.0], dim=-1)
    return F.grid_sample(image, grid, mode="bicubic", padding_mode="zeros", align_corners=True)


def _linearise(warped: torch.Tensor, u1: torch.Tensor, u2: torch.Tensor, i0: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The data term linearised around the flow: from the warped (I1, I1x, I1y), the constant
    ``I1(x + u) - grad . u - I0`` and the gradient, as contiguous planes (the iteration's one
    layout: no recompiles). Compiled, one pass over the warped images instead of seven."""
    i1w, gx, gy = warped.unbind(1)
    return i1w - gx * u1 - gy * u2 - i0, gx.contiguous(), gy.contiguous()


def _median_planes(planes: list[torch.Tensor], size: int,
                   fused: Callable[[torch.Tensor, int], torch.Tensor] | None = None) -> list[torch.Tensor]:
    """The median of each (B, H, W) plane over a size x size window (edges replicated), as
    contiguous planes.

    On the CPU OpenCV's medianBlur (3 or 5) is an order of magnitude faster than a sort over
    unfolded windows. On a GPU, compiled, a selection network over the window's shifted views
    fuses into one kernel that reads each pixel's neighbours once; eager, the unfolded sort
    (whose window copy is 25x the flow: 3.9 GB for 256 pairs at 320x240) is the fallback.
    """
    if planes[0].device.type == "cpu" and size in (3, 5):
        out = []
        for plane in planes:
            source = plane.contiguous().numpy()
            target = np.empty_like(source)
            for i in range(len(source)):
                cv2.medianBlur(source[i], size, dst=target[i])
            out.append(torch.from_numpy(target))
        return out
    stacked = torch.stack(planes, dim=1)
    smoothed = fused(stacked, size) if fused is not None else _median_unfold(stacked, size)
    return [plane.contiguous() for plane in smoothed.unbind(1)]


def _median_select(flow: torch.Tensor, size: int) -> torch.Tensor:
    """The window median by forgetful selection (Paeth): of the first (n + 1) / 2 + 1 values
    the smallest and the largest cannot be the median, so both are dropped and the next value
    taken in, until one is left. Only elementwise min/max on shifted views: one fused kernel."""
    pad = size // 2
    height, width = flow.shape[-2:]
    padded = F.pad(flow, (pad, pad, pad, pad), mode="replicate")
    rest = [padded[..., dy:dy + height, dx:dx + width] for dy in range(size) for dx in range(size)]
    keep = (len(rest) + 1) // 2 + 1
    window, rest = rest[:keep], rest[keep:]
    while True:
        for i in range(len(window) - 1):  # the largest to the end
            window[i], window[i + 1] = torch.minimum(window[i], window[i + 1]), torch.maximum(window[i], window[i + 1])
        for i in range(len(window) - 2, 0, -1):  # the smallest (of the others) to the front
            window[i - 1], window[i] = torch.minimum(window[i - 1], window[i]), torch.maximum(window[i - 1], window[i])
        window = window[1:-1]
        if not rest:
            return window[0]
        window.append(rest.pop(0))


def _median_unfold(flow: torch.Tensor, size: int) -> torch.Tensor:
    """The device-agnostic median: sort each unfolded window (the GPU path)."""
    batch, channels, height, width = flow.shape
    pad = size // 2
    padded = F.pad(flow.reshape(batch * channels, 1, height, width), (pad, pad, pad, pad), mode="replicate")
    patches = F.unfold(padded, size)  # (B*C, size*size, H*W)
    return patches.median(dim=1).values.reshape(batch, channels, height, width)


def _pyramid(images: torch.Tensor, settings: TVL1Settings) -> list[torch.Tensor]:
    """The image pyramid as OpenCV builds it: each level a bilinear resize of the one above by
    ``scale_step`` (its size rounded, its pixels sampled at exactly 1 / scale_step apart), no
    pre-smoothing, down to a level whose side would be under ``min_size``. (IPOL's Gaussian
    pre-blur cost 1-2% endpoint error on real photographs, bench/flow.py; sampling at the
    rounded sizes' ratio instead of the step, 0.15-1% at step 0.8.)"""
    levels = [images]
    for _ in range(1, settings.scales):
        height, width = levels[-1].shape[-2:]
        size = [round(height * settings.scale_step), round(width * settings.scale_step)]
        if min(size) < settings.min_size:
            break
        levels.append(torch.ops.aten.upsample_bilinear2d(levels[-1], size, False,
                                                         settings.scale_step, settings.scale_step))
    return levels


def _primal_dual_update(u1: torch.Tensor, u2: torch.Tensor, px1: torch.Tensor, px2: torch.Tensor,
                        py1: torch.Tensor, py2: torch.Tensor, rho_c: torch.Tensor, gx: torch.Tensor,
                        gy: torch.Tensor, running: torch.Tensor, lt: float, theta: float, taut: float
                        ) -> tuple[torch.Tensor, ...]:
    """One iteration for the pairs still ``running`` ((B,) bool; the others' planes come back
    unchanged): data-term thresholding, primal TV step, dual projection; also the mean squared
    update per pair (the stopping test's measure).

    Every argument is one (B, H, W) plane per pair: the flow (u1, u2), the dual variables' x
    and y parts per component, the linearised data term's constant and the warped image
    gradient. As separate planes, not (B, 2, H, W) stacks: compiled on the CPU, the thresholding
    step (one division per pixel) is then computed once for both components and the two
    components' updates share one loop over memory: 17% faster per iteration than the stacks.
    """
    grad_sq = gx * gx + gy * gy
    rho = rho_c + gx * u1 + gy * u2
    # Thresholding of the linearised L1 data term: clamp(-rho / |grad|^2, -lt, lt) along grad.
    textured = grad_sq > 1e-10
    step = torch.where(textured, (-rho / torch.where(textured, grad_sq, 1.0)).clamp(-lt, lt), 0.0)
    # A frozen pair's flow is selected before the dual step, its duals after: no plane is
    # stored twice (selecting all six afterwards cost a second store of the flow).
    keep = running.view(-1, 1, 1)
    n1 = torch.where(keep, u1 + step * gx + theta * _divergence(px1, py1), u1)
    n2 = torch.where(keep, u2 + step * gy + theta * _divergence(px2, py2), u2)
    d1, d2 = n1 - u1, n2 - u2
    change = (d1 * d1 + d2 * d2).mean(dim=(1, 2))
    g1x, g1y = _forward_gradient(n1)
    g2x, g2y = _forward_gradient(n2)
    norm1 = 1.0 + taut * torch.sqrt(g1x * g1x + g1y * g1y)
    norm2 = 1.0 + taut * torch.sqrt(g2x * g2x + g2y * g2y)
    return (n1, n2, torch.where(keep, (px1 + taut * g1x) / norm1, px1),
            torch.where(keep, (px2 + taut * g2x) / norm2, px2),
            torch.where(keep, (py1 + taut * g1y) / norm1, py1),
            torch.where(keep, (py2 + taut * g2y) / norm2, py2), change)


# Iterations run as one unit between two reads of the stopping test on a GPU: compiled, the unit
# is one graph, so Python, the dispatcher and the device sync run once per 10 iterations.
BLOCK = 10


def _primal_dual_block(u1: torch.Tensor, u2: torch.Tensor, px1: torch.Tensor, px2: torch.Tensor,
                       py1: torch.Tensor, py2: torch.Tensor, rho_c: torch.Tensor, gx: torch.Tensor,
                       gy: torch.Tensor, running: torch.Tensor, lt: float, theta: float, taut: float,
                       epsilon_sq: float, iterations: int) -> tuple[torch.Tensor, ...]:
    """``iterations`` iterations of :func:`_primal_dual_update` for the pairs still ``running``
    ((B,) bool). A pair whose update falls below ``epsilon_sq`` keeps that iteration (as OpenCV
    does) and is frozen from there on, so a pair stops where it would alone whatever its
    batch-mates do; returns the six planes and which pairs still run."""
    state = (u1, u2, px1, px2, py1, py2)
    for _ in range(iterations):
        *state, change = _primal_dual_update(*state, rho_c, gx, gy, running, lt, theta, taut)
        running = running & (change >= epsilon_sq)
    return (*state, running)


def _primal_dual_step(u1: torch.Tensor, u2: torch.Tensor, px1: torch.Tensor, px2: torch.Tensor,
                      py1: torch.Tensor, py2: torch.Tensor, rho_c: torch.Tensor, gx: torch.Tensor,
                      gy: torch.Tensor, running: torch.Tensor, lt: float, theta: float, taut: float,
                      epsilon_sq: float, *out: torch.Tensor
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One iteration of :func:`_primal_dual_block` (the CPU's unit, the test read after every
    iteration): returns the new flow planes and which pairs still run, the four duals written
    into ``out``.

    Into given planes (the last iteration's), not fresh ones: compiled, the kernel stores
    straight into them. Six fresh (B, H, W) planes per iteration (29 MB for 16 pairs at
    320x240) came from the system, page faults included, whenever the C allocator had handed
    the last ones back: ~2,400 faults per pair on the development VM, ~600 with two fresh
    planes (the flow's are stored once more if written into given planes too).
    """
    n1, n2, *duals, change = _primal_dual_update(u1, u2, px1, px2, py1, py2, rho_c, gx, gy, running,
                                                 lt, theta, taut)
    for plane, value in zip(out, duals):
        plane.copy_(value)
    return n1, n2, running & (change >= epsilon_sq)


def _primal_dual_ten(*args: object) -> tuple[torch.Tensor, ...]:
    """:data:`BLOCK` iterations of :func:`_primal_dual_block` (a GPU's unit: one sync per block)."""
    return _primal_dual_block(*args, BLOCK)  # type: ignore[arg-type]


def _compiled(fn, what: str):  # noqa: ANN001, ANN202 - a torch.compile'd fn with an eager fallback
    compiled = torch.compile(fn, dynamic=True)
    failed = False

    def guarded(*args: object) -> tuple[torch.Tensor, ...]:
        nonlocal failed
        if not failed:
            try:
                return compiled(*args)
            except Exception as err:  # noqa: BLE001 - any compiler failure falls back to eager
                log.warning("torch.compile of the TV-L1 %s failed (%s: %s); running eagerly", what,
                            type(err).__name__, str(err).splitlines()[0] if str(err) else "")
                failed = True
        return fn(*args)

    return guarded


@dataclass(frozen=True)
class Kernels:
    """The solver's hot pieces: the iteration (one, or a block of ten), the linearisation around
    the flow, and the selection median (``None``: the unfolded sort, for eager use)."""

    step: Callable[..., tuple[torch.Tensor, ...]]
    block: Callable[..., tuple[torch.Tensor, ...]]
    linear: Callable[..., tuple[torch.Tensor, ...]]
    median: Callable[[torch.Tensor, int], torch.Tensor] | None


EAGER = Kernels(_primal_dual_step, _primal_dual_ten, _linearise, None)


@functools.lru_cache(maxsize=1)
def compiled_kernels() -> Kernels:
    """The pieces fused by torch.compile (a few kernels instead of ~30 per iteration, and ten
    iterations per call on a GPU; compiled once per process, on first use).

    If compiling fails (no C++ compiler, an unsupported platform) the solver says so once and
    runs eagerly: same results, slower.
    """
    return Kernels(_compiled(_primal_dual_step, "iteration"), _compiled(_primal_dual_ten, "iteration block"),
                   _compiled(_linearise, "linearisation"), _compiled(_median_select, "median"))


def _solve_level(i0: torch.Tensor, i1: torch.Tensor, flow: torch.Tensor,
                 settings: TVL1Settings, blocks: bool, kernels: Kernels) -> torch.Tensor:
    """One pyramid level: ``settings.warps`` warps, each iterated until the pair converges.

    Each pair stops on its own stopping test at the iteration it passes it, as it would alone
    (and as OpenCV, one pair at a time, stops). Stopping the batch only when its slowest pair
    converged made a pair's field depend on its batch-mates and spent two thirds of the
    iterations on converged pairs (16 real 320x240 pairs at epsilon 0.01); reading the test
    every ten iterations alone, not every one, made torch-tvl1 at epsilon 0.05 run 10-iteration
    warps where OpenCV stops after a few.
    ``blocks``: :data:`BLOCK` iterations per call (the same fields; see :func:`tvl1_flow`).
    """
    batch, _, height, width = i0.shape
    ys, xs = torch.meshgrid(torch.arange(height, device=i0.device, dtype=i0.dtype),
                            torch.arange(width, device=i0.device, dtype=i0.dtype), indexing="ij")
    lt = settings.lambda_ * settings.theta
    taut = settings.tau / settings.theta
    gx1, gy1 = _centered_gradient(i1)
    images = torch.cat([i1, gx1, gy1], dim=1)
    if images.device.type == "cpu":  # remap's layout, once per level rather than per warp
        images = images.contiguous(memory_format=torch.channels_last)
    max_iterations = settings.inner_iterations * settings.outer_iterations
    epsilon_sq = settings.epsilon ** 2
    # Whole blocks give exactly the per-iteration loop's fields when the median filter falls on
    # block boundaries.
    blocks = blocks and settings.inner_iterations % BLOCK == 0
    # The level's solution, one (B, H, W) plane each: flow (u1, u2), duals (px1, px2, py1, py2).
    solved = [flow[:, 0].contiguous(), flow[:, 1].contiguous(),
              *(torch.zeros(batch, height, width, device=i0.device, dtype=i0.dtype) for _ in range(4))]
    # The first image as a plane of its own, not a view of the level: the compiled
    # linearisation guards on a view's base, whose sizes differ between levels (a recompile).
    first = i0[:, 0].clone()
    for _ in range(settings.warps):
        warped = _warp(images, solved[0], solved[1], xs, ys)
        rho_c, gx, gy = kernels.linear(warped, solved[0], solved[1], first)
        # The iterated rows (``active``: their pairs' indices in the batch) and which of them
        # still run (``running``). A pair that converges is frozen in the batch (its planes keep
        # the values they converged to) until a quarter of the rows are frozen: then those are
        # saved and dropped. Dropping rows one at a time cost more in copies than it saved at
        # epsilon 0.05; saving each pair as it converged made the row copies 17% of the solver
        # (12% now, on 32 real pairs at the pipeline's settings).
        active = torch.arange(batch, device=i0.device)
        running = torch.ones(batch, dtype=torch.bool, device=i0.device)
        state, data = list(solved), [rho_c, gx, gy]
        spare = None  # the planes a step writes into: the last step's input
        n = 0
        while n < max_iterations:
            if settings.median_filtering > 1 and n % settings.inner_iterations == 0:
                smoothed = _median_planes(state[:2], settings.median_filtering, kernels.median)
                if n:  # a frozen pair keeps its field
                    smoothed = [torch.where(running.view(-1, 1, 1), new, old) for new, old in zip(smoothed, state)]
                state[:2] = smoothed
            if blocks and n + BLOCK <= max_iterations:
                *state, running = kernels.block(*state, *data, running, lt, settings.theta, taut, epsilon_sq)
                n += BLOCK
            else:
                if spare is None:
                    spare = [torch.empty_like(plane) for plane in state[2:]]
                u1, u2, running = kernels.step(*state, *data, running, lt, settings.theta, taut, epsilon_sq,
                                               *spare)
                state, spare = [u1, u2, *spare], state[2:]
                n += 1
            if n >= max_iterations:
                break
            still = int(running.sum())
            if not still:
                break
            if 4 * (len(running) - still) >= len(running):
                kept_rows = running.clone()
                if still == 1:  # one frozen row stays beside it: a batch of one is a graph of its own to compile
                    kept_rows[int((~running).nonzero()[0])] = True
                kept, frozen = kept_rows.nonzero().view(-1), (~kept_rows).nonzero().view(-1)
                if not len(frozen):
                    continue
                rows = active[frozen]
                for full, plane in zip(solved, state):
                    full.index_copy_(0, rows, plane.index_select(0, frozen))
                state = [plane.index_select(0, kept) for plane in state]
                data = [plane.index_select(0, kept) for plane in data]
                spare = None
                active, running = active[kept], running[kept]
        if len(active) == batch:
            solved = state
        else:
            for full, plane in zip(solved, state):
                full.index_copy_(0, active, plane)
    return torch.stack(solved[:2], dim=1)


@torch.no_grad()
def tvl1_flow(prev: torch.Tensor, nxt: torch.Tensor, settings: TVL1Settings = TVL1Settings(),
              blocks: bool | None = None, kernels: Kernels = EAGER) -> torch.Tensor:
    """Flow from ``prev`` to ``nxt``: (B, H, W) grey 0-255 -> (B, 2, H, W) (d_x, d_y) in pixels.

    ``blocks``: run the iterations ten per call, reading the stopping test once per block (the
    default on a GPU, where each read is a device sync), or one per call (the default on the
    CPU, where a read is free and a converged pair's remaining block iterations are not). Both
    give the same fields. ``kernels``: :data:`EAGER` or :func:`compiled_kernels` (the same
    fields, faster after a one-off compile).
    """
    if blocks is None:
        blocks = prev.device.type != "cpu"
    i0 = prev.float()[:, None]
    i1 = nxt.float()[:, None]
    levels0, levels1 = _pyramid(i0, settings), _pyramid(i1, settings)
    flow = torch.zeros(i0.shape[0], 2, *levels0[-1].shape[-2:], device=i0.device, dtype=i0.dtype)
    for level in range(len(levels0) - 1, -1, -1):
        a, b = levels0[level], levels1[level]
        if flow.shape[-2:] != a.shape[-2:]:
            # As OpenCV: resized to the finer level's size, scaled by 1 / scale_step (not by
            # the ratio of the rounded sizes).
            flow = F.interpolate(flow, size=a.shape[-2:], mode="bilinear", align_corners=False)
            flow = flow * (1.0 / settings.scale_step)
        flow = _solve_level(a, b, flow, settings, blocks, kernels)
    return flow
