"""The model card: what was trained, how, on what, and how well, written from the run's figures."""

from __future__ import annotations

from pathlib import Path


def write_model_card(summary: dict, path: Path) -> None:
    per_class = " | ".join(f"{100 * accuracy:.2f}" for accuracy in summary["per_class_accuracy"])
    timings = "\n".join(f"| {phase} | {seconds / 60:.1f} min ({seconds:.0f} s) |"
                        for phase, seconds in summary["timings_s"].items())
    versions = ", ".join(f"{name} {version}" for name, version in summary["versions"].items())
    ece = summary["expected_calibration_error"]
    non_digit_rows = "\n".join(f"| {name} | {100 * share:.2f}% |" for name, share in summary["not_a_digit"].items())
    served = summary["served"]
    served_rows = "\n".join(
        f"| {measure} on {name} | " + " | ".join(f"{100 * served[model][key][name]:.2f}%" for model in ("float", "int8")) + " |"
        for measure, key in (("accuracy", "accuracy"), ("calibration error", "ece"), ("called no digit", "flagged"))
        for name in served["float"][key])
    quick_warning = ("\n> **Quick smoke-test run**: a few hundred images, one epoch per phase. "
                     "Not a model to serve.\n" if summary["quick"] else "")
    path.write_text(f"""# Model card: MNIST digit ResNet
{quick_warning}
**File**: `model_store/{summary['model_file']}` (TorchScript), SHA-256 `{summary['model_sha256']}`.
Input: `(N, 1, 28, 28)` float pixels in [0, 1], light digit on dark, centred MNIST-style; the module
normalises with the MNIST mean and standard deviation itself. Output: `(N, 12)`: the ten digits'
calibrated probabilities (summing to one), the probability that the drawing is not a digit, and how
unfamiliar it looks (1 at the threshold chosen on validation). The temperature
({summary['temperature']:.3f}), the "not a digit" threshold ({summary['non_digit_threshold']:.4g}), the
unfamiliarity distance ({summary['unfamiliar_distance']:.4g}) and the {summary['bank_digits']:,} training digits'
statistics it is measured against are buffers of the module: the handler reads the threshold from the file.

## Results on the MNIST test set ({summary['test_images']:,} images, never used for selection)

- **Test accuracy: {100 * summary['test_accuracy']:.2f}%** ({summary['test_errors']} errors; the most likely
  of the ten digits, whatever the "not a digit" output says)
- Canvas-style test accuracy: {100 * summary['canvas_test_accuracy']:.2f}% on the same {summary['test_images']:,} digits redrawn
  as constant-width pen strokes along their skeletons (`training/canvas_render.py`), then fitted by the
  handler's own `mnist_style`
- Validation accuracy of the selected checkpoint: {100 * summary['validation_accuracy']:.2f}%
  on {summary['validation_images']:,} images held out from the training set (fixed seed)

| digit | 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 |
|---|---|---|---|---|---|---|---|---|---|---|
| accuracy (%) | {per_class} |

## Calibration

Temperature scaling fitted on the validation split (its MNIST scans and their canvas redrawing):
T = {summary['temperature']:.3f}. Expected calibration error, 15 equal-width confidence bins, of the
ten digit probabilities:

| set | before | calibrated (served) |
|---|---|---|
| MNIST test | {100 * ece['MNIST test, before']:.2f}% | {100 * ece['MNIST test, calibrated']:.2f}% |
| canvas-style validation | {100 * ece['canvas-style validation, before']:.2f}% | {100 * ece['canvas-style validation, calibrated']:.2f}% |

![reliability diagrams](reliability.png)

## "Not a digit"

An eleventh class trained on {summary['non_digit_counts']['train']:,} non-digits: drawings of 15 kinds
procedurally drawn with a round pen (`training/non_digits.py`: scribbles, polygons, hatching,
zigzags, spirals, blobs, letters in several hands, punctuation with its dots, mathematical and
currency signs, arrows, check marks, faces and hearts, signatures, underlines and strike-throughs,
dot clouds) and random strokes (two to five segments, arcs, loops and dots at random places), and
pairs of training digits whose ink touches or overlaps (`training/digit_pairs.py`: one symbol that
is two digits is no digit, so the reader cuts it; no data set, no font). The reader keeps a cut
only when the model is sure of both parts, so the model also trains on parts: more such pairs cut
by the handler's own cutter (`training/cut_parts.py`, its coarse and its fine cuts), a part that
holds nearly all of one digit's ink labelled that digit, one that holds much of both no digit.
A drawing is called no digit when that class's probability is at least
{summary['non_digit_threshold']:.4g}, the threshold that flags {100 * summary['flagged_digit_budget']:.1f}% of
the validation digits (chosen on validation only), or when it is drawn whole and looks unfamiliar:
the per-channel mean and spread of every layer's maps are farther from the
{summary['bank_neighbour']}th nearest of {summary['bank_digits']:,} training digits' (scanned or redrawn) than
the distance that flags {100 * summary['unfamiliar_digit_budget']:.2f}% of the validation digits
(`training/familiarity.py`; it catches kinds the eleventh class never saw: docs/RECOGNITION.md,
"Kinds never seen"). Parts the reader cuts from a drawing are judged by the eleventh class only:
they are unlike every whole digit.

| measure | share |
|---|---|
{non_digit_rows}

![trade-off](non_digit_tradeoff.png)

## The int8 file served on CPUs

`model_store/{summary['int8_model_file']}` (SHA-256 `{summary['int8_model_sha256']}`) is the same
network after static post-training quantization (`training/quantize.py`: x86 backend, int8 weights
per output channel, int8 activations whose ranges were observed on validation images only), with
the same temperature and threshold. A CPU worker serves it (about 5x faster per forward pass,
docs/BENCHMARKS.md); a GPU worker serves the float file. Both on the same images:

| measure | float | int8 |
|---|---|---|
{served_rows}

## Through the page

How the served model does on digits drawn with the page's pen in a real browser (stroke replay of
validation digits), and on numbers, is measured by the serving side's benchmarks
(`make bench-strokes`, `make bench-numbers`) and reported in [recognition](../RECOGNITION.md).

![confusion matrix](confusion_matrix.png)
![misclassified digits](misclassified.png)

## Model

A residual network written for 1-channel 28x28 input (`training/model.py`): 3x3 stem convolution
with batch norm and dropout, three residual stages with identity or 1x1-projection shortcuts,
global average pooling, dropout, one linear layer.
{summary['parameters']:,} parameters; {summary['macs'] / 1e6:.1f} M multiply-accumulates per image.

## Recipe

Command: `{summary['command']}`

- Data: the four MNIST IDX files, checked (magic, shape, counts, SHA-256); 60,000 training
  images split into {60_000 - summary['validation_images']:,} for training and
  {summary['validation_images']:,} for validation.
- fastai `Learner`, Adam, label-smoothing cross-entropy, batch size {summary['batch_size']}.
- Canvas domain: each training digit is drawn into a batch as its MNIST scan, as its canvas
  redrawing (skeleton → constant-width round strokes, pen width 6-25% of the digit's height) or
  thickened/thinned, with weights {summary['rendering_weights']}; both redrawings are fitted by the
  handler's `mnist_style`. {summary['non_digit_counts']['train']:,} generated non-digits are the eleventh class.
  Validation for checkpoint selection: the {summary['validation_images']:,} held-out scans, their
  redrawing, and {summary['non_digit_counts']['valid']:,} non-digits of another seed.
- Augmentation on each training batch: rotation up to ±15°, zoom ±10%, lighting, perspective warp
  (one affine/warp pass, zero padding, no flips).
- `lr_find` (valley suggestion {summary['lr_max']:.2e}), then {summary['epochs']} epochs of
  one-cycle at that peak rate, then {summary['finetune_epochs']} epochs of fine-tuning from
  {summary['finetune_lr']:.2e} with `ReduceLROnPlateau` (validation loss, patience
  {summary['plateau']['patience']}, factor {summary['plateau']['factor']:g}).
- The checkpoint with the best validation accuracy over both phases is kept, calibrated (above) and
  exported with its temperature and threshold.

![lr_find](lr_find.png)
![training curves](training_curves.png)

## Wall time on this machine ({summary['machine']})

| phase | time |
|---|---|
{timings}

Versions: {versions}. TorchScript round trip differed from the eager model by at most
{summary['export_max_difference']:.1e}.
""")
