"""How faithful and how costly the explanations are, on validation digits drawn as canvases.

    python -m bench.explain_benchmark [--digits 500] [--figures docs/explanations]   (make bench-explain)

1. Integration steps: the completeness gap (|sum of attributions - logit difference| / logit
   difference) against the time per digit, for 8 to 64 Gauss-Legendre steps.
2. Latency of a whole explanation in process, one torch thread as in a worker: one digit and a
   number of 8 symbols, p50 of repeated runs.
3. Deletion test: blanking the 10% of a digit's ink with the highest attribution must lower the
   explained digit's probability at least 2x as much, on average, as blanking a random 10% of its ink.
   Then completeness as served: a request's symbols share a budget of path points, and what the
   first pass leaves refines the least complete ones.
4. Sanity check (Adebayo et al. 2018): the same network with random weights must give different
   attributions: Spearman rank correlation over the ink pixels below 0.5 on average.
5. Memory: what keeping the float file loaded beside the int8 copy costs a worker.

Every choice is made on validation digits; the test set is not read.
"""

from __future__ import annotations

import argparse
import base64
import io
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy.stats import spearmanr

from bench.canvas_png import canvas_png, ink_png, number_canvas
from bench.number_benchmark import validation_digits
from handler.mnist_batch import explanation_answers, prepare_batch
from handler.mnist_contract import MNIST_SIDE, NUM_DIGITS
from handler.mnist_explain import attributions_within_budget, integrated_gradients, steps_for
from handler.mnist_preprocess import INK_THRESHOLD, image_to_symbols
from serving.settings import INT8_MODEL, SERIALIZED_MODEL
from training.model import DigitResNet

STEP_CHOICES = (8, 16, 24, 32, 40, 48, 64)
STEPS_DIGITS = 100  # the steps table's share of the digits: it explains each of them seven times
DELETED_SHARE = 0.10
SEED = 7


def fitted_validation_digits(count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` validation digits as the model sees them after the page's canvas and preprocessing."""
    images, labels = validation_digits()
    pixels = torch.stack([image_to_symbols(canvas_png(images[i]))[0].pixels for i in range(count)])
    return pixels, torch.from_numpy(labels[:count]).long()


def attributions(network: torch.nn.Module, pixels: torch.Tensor, targets: torch.Tensor, steps: int = steps_for(1),
                 chunk: int = 16) -> list:
    """Integrated Gradients of many digits, ``chunk`` at a time: all path points of all digits at
    once would hold gigabytes of activations."""
    return [attribution for start in range(0, len(pixels), chunk)
            for attribution in integrated_gradients(network, pixels[start:start + chunk],
                                                    targets[start:start + chunk], steps)]


def steps_table(network: torch.nn.Module, pixels: torch.Tensor, targets: torch.Tensor) -> list[str]:
    rows = ["| steps | mean gap | p90 gap | max gap | within 5% | ms per digit (8 at once) |",
            "|---|---|---|---|---|---|"]
    for steps in STEP_CHOICES:
        gaps = np.array([a.completeness_gap for a in attributions(network, pixels, targets, steps)])
        started = time.perf_counter()
        for chunk in range(0, 64, 8):
            integrated_gradients(network, pixels[chunk:chunk + 8], targets[chunk:chunk + 8], steps)
        per_digit = (time.perf_counter() - started) / 64 * 1000
        rows.append(f"| {steps} | {gaps.mean():.1%} | {np.percentile(gaps, 90):.1%} | {gaps.max():.1%} | "
                    f"{(gaps <= 0.05).mean():.0%} | {per_digit:.1f} |")
    return rows


def served_completeness(network: torch.nn.Module, pixels: torch.Tensor, targets: torch.Tensor) -> list[str]:
    """Completeness as served, first pass and refinement within the budget, for requests of 1, 2, 4
    and 8 symbols made of the same digits."""
    rows = ["| symbols per request | mean gap | max gap | within 5% |", "|---|---|---|---|"]
    for symbols in (1, 2, 4, 8):
        gaps = np.array([a.completeness_gap for start in range(0, len(pixels) - symbols + 1, symbols)
                         for a in attributions_within_budget(network, pixels[start:start + symbols],
                                                             targets[start:start + symbols])])
        rows.append(f"| {symbols} | {gaps.mean():.1%} | {gaps.max():.1%} | {(gaps <= 0.05).mean():.0%} |")
    return rows


def latency_ms(model: torch.nn.Module, png: bytes, repeats: int) -> float:
    threshold, network = float(model.non_digit_threshold), torch.jit.freeze(model.statistics.network)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        explanation_answers(prepare_batch([{"body": png}]), model, network, threshold)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def digit_probability(model: torch.nn.Module, pixels: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return model(pixels)[:, :NUM_DIGITS].gather(1, targets.view(-1, 1)).squeeze(1)


def deletion_test(model: torch.nn.Module, pixels: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
    """Mean drop of the explained digit's probability when the top 10% of the ink by attribution,
    or a random 10% of it, is blanked."""
    grids = torch.stack([a.grid for a in attributions(model.statistics.network, pixels, targets)])
    rng = np.random.default_rng(SEED)
    by_attribution, at_random = pixels.clone(), pixels.clone()
    for index in range(len(pixels)):
        ink = torch.nonzero(pixels[index, 0].flatten() > INK_THRESHOLD).flatten()
        count = max(1, round(DELETED_SHARE * len(ink)))
        top = ink[grids[index].flatten()[ink].argsort(descending=True)[:count]]
        chance = torch.from_numpy(rng.choice(ink.numpy(), count, replace=False))
        by_attribution[index, 0].view(-1)[top] = 0
        at_random[index, 0].view(-1)[chance] = 0
    before = digit_probability(model, pixels, targets)
    top_drop = float((before - digit_probability(model, by_attribution, targets)).mean())
    random_drop = float((before - digit_probability(model, at_random, targets)).mean())
    return {"top": top_drop, "random": random_drop, "ratio": top_drop / max(random_drop, 1e-9)}


def sanity_check(network: torch.nn.Module, pixels: torch.Tensor, targets: torch.Tensor) -> float:
    """Mean Spearman correlation, over each digit's ink pixels, of the trained network's attributions
    with those of the same architecture with random weights."""
    torch.manual_seed(SEED)
    random_network = DigitResNet().eval()
    for parameter in random_network.parameters():
        parameter.requires_grad_(False)
    trained = attributions(network, pixels, targets)
    randomised = attributions(random_network, pixels, targets)
    correlations = []
    for index, (a, b) in enumerate(zip(trained, randomised)):
        ink = pixels[index, 0].flatten() > INK_THRESHOLD
        correlations.append(spearmanr(a.grid.flatten()[ink].numpy(), b.grid.flatten()[ink].numpy()).statistic)
    return float(np.nanmean(correlations))


MEMORY_PROBE = """
import psutil, torch
torch.set_num_threads(1)
torch.backends.quantized.engine = "x86"
torch.jit.load({int8!r}).eval()(torch.zeros(1, 1, {side}, {side}))
before = psutil.Process().memory_info().rss
torch.jit.load({float!r}).eval()(torch.zeros(1, 1, {side}, {side}))
print((psutil.Process().memory_info().rss - before) / 2**20)
"""


def float_model_memory_mb() -> float:
    """Resident memory added by loading the float file beside the int8 copy, as a worker does, in a
    fresh process (this one's allocator holds freed memory from the runs above)."""
    probe = MEMORY_PROBE.format(int8=str(INT8_MODEL), float=str(SERIALIZED_MODEL), side=MNIST_SIDE)
    return float(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout)


def overlay_figure(png: bytes, answer: dict, path: Path, side: int = 280) -> None:
    """The drawing with each symbol's heat map over its box, as the page shows it."""
    drawing = Image.open(io.BytesIO(png)).convert("RGBA")
    # The ink faded to grey, as the page's veil does, so the colours over it can be seen.
    drawing.putalpha(drawing.getchannel("A").point(lambda alpha: alpha * 35 // 100))
    picture = Image.alpha_composite(Image.new("RGBA", drawing.size, (255, 255, 255, 255)), drawing)
    for symbol in answer["digits"]:
        left, top, right, bottom = symbol["box"]
        encoded = symbol["explanation"]["heatmap"].partition(",")[2]
        heat = Image.open(io.BytesIO(base64.b64decode(encoded))).resize((right - left, bottom - top))
        picture.alpha_composite(heat, (left, top))
    scale = side / max(picture.size)
    picture.convert("RGB").resize((round(picture.width * scale), round(picture.height * scale))).save(path)


def figures(model: torch.nn.Module, folder: Path) -> list[str]:
    """One picture per kind of explanation: a digit read right, a confusion, a touching pair."""
    folder.mkdir(parents=True, exist_ok=True)
    images, labels = validation_digits()
    threshold = float(model.non_digit_threshold)
    fours = np.flatnonzero(labels == 4)[:400].tolist()
    pixels = torch.stack([image_to_symbols(canvas_png(images[i]))[0].pixels for i in fours])
    nines = digit_probability(model, pixels, torch.full((len(fours),), 9))
    confused = fours[int(nines.argmax())]
    touching = ink_png(number_canvas([images[int(np.flatnonzero(labels == 4)[0])],
                                      images[int(np.flatnonzero(labels == 8)[0])]], height=140, gap=-20))
    cases = {"correct-7.png": (canvas_png(images[int(np.flatnonzero(labels == 7)[0])]), None),
             "confusion-4-as-9.png": (canvas_png(images[confused]), None),
             "confusion-4-explained-as-4.png": (canvas_png(images[confused]), 4),
             "touching-48.png": (touching, None)}
    lines = []
    for name, (png, target) in cases.items():
        batch = prepare_batch([{"body": png, **({} if target is None else {"target": str(target)})}])
        (answer,) = explanation_answers(batch, model, torch.jit.freeze(model.statistics.network), threshold)
        overlay_figure(png, answer, folder / name)
        explained = ", ".join(f"{s['digit']} (explained {s['explanation']['target']}, gap "
                              f"{s['explanation']['completeness_gap']:.1%})" for s in answer["digits"])
        lines.append(f"- `{name}`: read \"{answer['number']}\"; {explained}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--digits", type=int, default=500, help="validation digits for the deletion and sanity tests")
    parser.add_argument("--figures", type=Path, default=None, help="write the pictures of docs/EXPLANATIONS.md here")
    args = parser.parse_args()
    torch.set_num_threads(1)  # as in a TorchServe worker
    model = torch.jit.load(str(SERIALIZED_MODEL)).eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    pixels, labels = fitted_validation_digits(args.digits)
    with torch.inference_mode():
        chosen = model(pixels)[:, :NUM_DIGITS].argmax(dim=1)

    print(f"## Integration steps (Gauss-Legendre), {STEPS_DIGITS} validation digits as canvases\n")
    print("\n".join(steps_table(model.statistics.network, pixels[:STEPS_DIGITS], chosen[:STEPS_DIGITS])))
    print(f"\n## Completeness as served (the budget's refinement included), {STEPS_DIGITS} validation digits\n")
    print("\n".join(served_completeness(model.statistics.network, pixels[:STEPS_DIGITS], chosen[:STEPS_DIGITS])))
    digits = dict((int(labels[i]), i) for i in range(len(labels)))
    images, _ = validation_digits()
    one = canvas_png(images[digits[7]])
    eight = ink_png(number_canvas([images[digits[d]] for d in (1, 2, 3, 4, 5, 6, 7, 8)], height=120, gap=30))
    latency_ms(model, one, 3)  # warm-up
    print("\n## Latency of a whole explanation, in process, one torch thread (p50 of 20)\n")
    print(f"- one digit ({steps_for(1)} steps): {latency_ms(model, one, 20):.0f} ms")
    print(f"- a number of 8 symbols ({steps_for(8)} steps each): {latency_ms(model, eight, 20):.0f} ms")
    deletion = deletion_test(model, pixels, chosen)
    print(f"\n## Deletion test, {len(pixels)} validation digits, {DELETED_SHARE:.0%} of the ink blanked\n")
    print(f"- mean drop of the explained digit's probability: top by attribution {deletion['top']:.3f}, "
          f"random {deletion['random']:.3f}: {deletion['ratio']:.1f}x (target at least 2x)")
    print(f"\n## Sanity check: random weights\n\n- mean Spearman correlation over the ink: "
          f"{sanity_check(model.statistics.network, pixels, chosen):.2f} (target below 0.5)")
    print(f"\n## Memory\n\n- the float file loaded beside the int8 copy: {float_model_memory_mb():.1f} MB resident")
    if args.figures:
        print("\n## Figures\n")
        print("\n".join(figures(model, args.figures)))


if __name__ == "__main__":
    main()
