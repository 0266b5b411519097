"""Which ink made the model decide: Integrated Gradients per symbol, and a heat map of it for the page.

Integrated Gradients (Sundararajan et al. 2017) attributes the explained digit's logit to each
input pixel: the gradient averaged along the straight path from a baseline to the image, times the
image's difference from that baseline. The baseline here is a blank canvas (no ink: zeros in the
model's [0, 1] pixel space, which the exported module normalises itself), so every attribution sits
on ink and the attributions add up to the logit's difference from a blank canvas (completeness).
TorchServe's own MNIST example uses zeros after normalisation instead, which is a grey image.

The gradients are the model's own (the float TorchScript file; the int8 copy has none), taken for
all symbols and all path points in one backward pass. Captum's IntegratedGradients computes the
same (tests/handler/test_explain.py checks it); it is not used here because it would add
matplotlib to the serving image for twenty lines of arithmetic. The path integral uses Gauss-Legendre
nodes, as Captum does by default; the number of steps was chosen by measuring the completeness gap
against time (docs/EXPLANATIONS.md, `make bench-explain`).
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from handler.mnist_contract import NUM_DIGITS

# Path points per request: their forward and backward passes are the whole cost (about 3 ms each on
# one core here), so a request's symbols share a budget of them: 40 steps for up to 4 symbols
# (about 125 ms for one digit), down to 24 for 8 or more (about 0.6 s for 8). Fewer than 24 leaves
# the mean completeness gap above 5%; docs/EXPLANATIONS.md has the measurements.
PATH_POINTS_PER_REQUEST = 192
MIN_STEPS, MAX_STEPS = 24, 40
# What is left of the budget after the first pass goes to the symbols whose attributions add up worst,
# recomputed with as many steps as remain (at most this many): a lone digit is refined at 128 steps
# when its gap is over the target, which most are not, so the median request pays nothing for it.
COMPLETENESS_TARGET = 0.05
MAX_REFINED_STEPS = 128
# Heat maps are at most this many pixels on their longer side; the page stretches them over the box.
HEATMAP_SIDE = 96
POSITIVE_RGB = (230, 85, 13)    # ink that made the digit more likely
NEGATIVE_RGB = (33, 113, 181)   # ink that spoke against it
MAX_ALPHA = 220
ROUNDING = 4


@dataclass
class Attribution:
    grid: torch.Tensor         # (28, 28): each pixel's share of the explained logit's difference
    logit_difference: float    # the explained logit on the image less on a blank canvas
    completeness_gap: float    # |sum(grid) - logit_difference| / |logit_difference|
    steps: int


def gauss_legendre(steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Points in [0, 1] along the path and their weights (summing to 1)."""
    nodes, weights = np.polynomial.legendre.leggauss(steps)
    return torch.from_numpy((nodes + 1) / 2).float(), torch.from_numpy(weights / 2).float()


def steps_for(symbols: int) -> int:
    """Integration steps for a request of ``symbols`` symbols, within its budget of path points."""
    return max(MIN_STEPS, min(MAX_STEPS, PATH_POINTS_PER_REQUEST // max(symbols, 1)))


def integrated_gradients(network: torch.nn.Module, pixels: torch.Tensor, targets: torch.Tensor,
                         steps: int) -> list[Attribution]:
    """Attributions of ``network``'s logit ``targets[i]`` to each pixel of ``pixels[i]`` ((N, 1, 28, 28)
    in [0, 1]) from a blank canvas. ``network`` returns logits; its parameters' gradients are not needed."""
    alphas, weights = (values.to(pixels.device) for values in gauss_legendre(steps))
    count = len(pixels)
    with torch.enable_grad():
        path = (alphas.view(-1, 1, 1, 1, 1) * pixels.unsqueeze(0)).reshape(steps * count, *pixels.shape[1:])
        path.requires_grad_(True)
        chosen = network(path).gather(1, targets.repeat(steps).view(-1, 1))
        (gradients,) = torch.autograd.grad(chosen.sum(), path)
    mean_gradient = (weights.view(-1, 1, 1, 1, 1) * gradients.view(steps, *pixels.shape)).sum(dim=0)
    grids = (pixels * mean_gradient).squeeze(1)
    with torch.inference_mode():
        ends = torch.cat([pixels, torch.zeros_like(pixels[:1])])
        logits = network(ends)
    differences = logits[:count].gather(1, targets.view(-1, 1)).squeeze(1) - logits[count, targets]
    attributions = []
    for grid, difference in zip(grids.detach().cpu(), differences.tolist()):
        gap = abs(float(grid.sum()) - difference) / max(abs(difference), 1e-6)
        attributions.append(Attribution(grid, difference, gap, steps))
    return attributions


def attributions_within_budget(network: torch.nn.Module, pixels: torch.Tensor,
                               targets: torch.Tensor) -> list[Attribution]:
    """Integrated Gradients of a request's symbols in at most PATH_POINTS_PER_REQUEST path points:
    a first pass at ``steps_for`` their count, then the least complete ones again with what is left."""
    steps = steps_for(len(pixels))
    attributions = integrated_gradients(network, pixels, targets, steps)
    left = PATH_POINTS_PER_REQUEST - steps * len(pixels)
    for index in sorted(range(len(pixels)), key=lambda i: -attributions[i].completeness_gap):
        refined_steps = min(MAX_REFINED_STEPS, left)
        if attributions[index].completeness_gap <= COMPLETENESS_TARGET or refined_steps <= steps:
            break
        (attributions[index],) = integrated_gradients(network, pixels[index:index + 1], targets[index:index + 1],
                                                      refined_steps)
        left -= refined_steps
    return attributions


def explained_digits(outputs: torch.Tensor, target: int | None) -> torch.Tensor:
    """The digit to explain for each symbol: the client's ``target``, else the model's choice."""
    if target is not None:
        return torch.full((len(outputs),), target, dtype=torch.long)
    return outputs[:, :NUM_DIGITS].argmax(dim=1)


def ink_region(pixels: torch.Tensor) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of the fitted ink in the 28x28 field: where the symbol's box went."""
    rows = torch.nonzero(pixels.squeeze(0).sum(dim=1) > 0).flatten()
    cols = torch.nonzero(pixels.squeeze(0).sum(dim=0) > 0).flatten()
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def heatmap_png(grid: torch.Tensor, pixels: torch.Tensor, box: tuple[int, int, int, int]) -> str:
    """The attributions over the symbol's ink, stretched to its box's shape (at most HEATMAP_SIDE
    pixels a side), positive in one colour and negative in another, as a ``data:image/png`` URL."""
    top, left, bottom, right = ink_region(pixels)
    region = grid[top:bottom, left:right].numpy().astype(np.float32)
    box_width, box_height = max(1, box[2] - box[0]), max(1, box[3] - box[1])
    scale = HEATMAP_SIDE / max(box_width, box_height)
    size = (max(1, round(box_width * scale)), max(1, round(box_height * scale)))
    stretched = np.asarray(Image.fromarray(region, mode="F").resize(size, Image.Resampling.BILINEAR))
    strength = np.abs(stretched) / max(float(np.abs(region).max()), 1e-12)
    colours = np.where((stretched >= 0)[..., None], POSITIVE_RGB, NEGATIVE_RGB).astype(np.uint8)
    alpha = (np.clip(strength, 0, 1) * MAX_ALPHA).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(np.dstack([colours, alpha]), mode="RGBA").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def explanation(attribution: Attribution, target: int, pixels: torch.Tensor, box: tuple[int, int, int, int]) -> dict:
    """One symbol's explanation, JSON-ready."""
    return {
        "target": target,
        "method": f"integrated gradients, {attribution.steps} Gauss-Legendre steps, from a blank canvas",
        "attributions": [[round(float(value), ROUNDING) for value in row] for row in attribution.grid],
        "logit_difference": round(attribution.logit_difference, ROUNDING),
        "completeness_gap": round(attribution.completeness_gap, ROUNDING),
        "heatmap": heatmap_png(attribution.grid, pixels, box),
    }
