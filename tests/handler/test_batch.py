"""Unit tests of handler/mnist_batch.py and mnist_device.py (no TorchServe, model outputs made here)."""

from __future__ import annotations

import torch

from bench.canvas_png import canvas_png, ink_png, number_canvas, with_decimal_point, with_minus_sign
from bench.mnist_samples import mnist_test_set, one_of_each_digit
from bench.number_benchmark import read_answers
from handler import mnist_batch, mnist_segment
from handler.mnist_batch import batch_answers, prepare_batch, read_batch
from handler.mnist_contract import NUM_OUTPUTS, UNFAMILIARITY
from handler.mnist_device import choose_device, int8_file, model_file
from serving.settings import INT8_MODEL, SERIALIZED_MODEL


def outputs_for(*digits: int | None, unfamiliarity: float = 0.0) -> torch.Tensor:
    """Model outputs, one row per symbol: certain of ``digit``, or certain it is no digit (None)."""
    rows = torch.zeros(len(digits), NUM_OUTPUTS)
    rows[:, UNFAMILIARITY] = unfamiliarity
    for row, digit in enumerate(digits):
        rows[row, 10 if digit is None else digit] = 1.0
        if digit is None:
            rows[row, 0] = 1.0  # the best guess among the digits, still shown small on the page
    return rows


def test_a_batch_keeps_bad_requests_apart_from_good_ones():
    good = canvas_png(one_of_each_digit()[3][1])
    rows = [{"body": good}, {"body": b"not an image"}, {"body": good, "preview": b"true"}, {"body": b""}]
    batch = prepare_batch(rows)
    assert batch.size == 4 and sorted(batch.requests) == [0, 2] and sorted(batch.errors) == [1, 3]
    assert batch.pixels.shape == (2, 1, 28, 28)
    answers = batch_answers(batch, outputs_for(3, 5), non_digit_threshold=0.5)
    assert [answer.get("digit") for answer in answers] == [3, None, 5, None]
    assert "error" in answers[1] and "error" in answers[3]
    assert "preview" in answers[2] and "preview" not in answers[0]


def test_every_symbol_of_every_request_is_one_row_of_one_forward_pass():
    digits = dict(one_of_each_digit())
    number = ink_png(number_canvas([digits[4], digits[2]], height=120))
    batch = prepare_batch([{"body": number}, {"body": canvas_png(digits[7])}, {"body": number}])
    assert batch.pixels.shape == (5, 1, 28, 28)
    answers = batch_answers(batch, outputs_for(4, 2, 7, 4, None), non_digit_threshold=0.5)
    assert [answer["number"] for answer in answers] == ["42", "7", "4"]
    assert [answer["is_digit"] for answer in answers] == [True, True, False]
    assert "digit" not in answers[0] and answers[1]["digit"] == 7 and "digit" not in answers[2]
    assert [len(answer["digits"]) for answer in answers] == [2, 1, 2]


def not_sure_of_anything(pixels: torch.Tensor) -> torch.Tensor:
    return outputs_for(*[None] * len(pixels))


def test_a_group_the_model_is_not_sure_of_gets_a_second_pass_of_cut_candidates_for_its_request_only():
    digits = dict(one_of_each_digit())
    touching = ink_png(number_canvas([digits[4], digits[8]], height=150, gap=-10))
    batch = prepare_batch([{"body": canvas_png(digits[7])}, {"body": touching}])
    assert batch.pixels.shape[0] == 2
    passes = []

    def forward(pixels):
        passes.append(len(pixels))
        return outputs_for(7, None) if len(passes) == 1 else not_sure_of_anything(pixels)

    outputs = read_batch(batch, forward)
    assert passes[0] == 2 and passes[1] >= 3  # the pair whole, and at least its two parts
    assert len(passes) == 3 and passes[2] > passes[1]  # still no digit: finer parts are read too
    assert len(outputs) == len(batch.pixels) == sum(passes)
    assert batch.requests[0].first_row == 0 and batch.requests[1].first_row == 2  # the closer look was not taken
    assert batch_answers(batch, outputs, non_digit_threshold=0.5)[0]["number"] == "7"


def test_unfamiliarity_refuses_a_group_read_whole_and_never_the_parts_cut_from_one():
    """The shipped model made to find every row unfamiliar: a digit drawn alone is refused, while a
    touching pair is still read from the parts cut from it (parts are unlike any whole digit)."""
    digits = dict(one_of_each_digit())
    model = torch.jit.load(str(INT8_MODEL)).eval()

    def unfamiliar(pixels):
        outputs = model(pixels).clone()
        outputs[:, UNFAMILIARITY] = 2.0
        return outputs

    touching = ink_png(number_canvas([digits[6], digits[4]], height=150, gap=-10))
    batch = prepare_batch([{"body": canvas_png(digits[7])}, {"body": touching}])
    with torch.inference_mode():
        seven, pair = batch_answers(batch, read_batch(batch, unfamiliar), float(model.non_digit_threshold))
    assert seven["is_digit"] is False and seven["number"] == "" and seven["digits"][0]["digit"] == 7
    assert pair["number"] == "64" and pair["is_digit"], pair


def test_the_closer_look_is_taken_only_when_it_reads_every_symbol_surely_as_a_digit():
    digits = dict(one_of_each_digit())
    touching = ink_png(number_canvas([digits[2], digits[1]], height=150, gap=-10))
    for closer_reads, taken in ((2, True), (None, False)):
        batch = prepare_batch([{"body": touching}])
        passes = []

        def forward(pixels):
            passes.append(len(pixels))
            return not_sure_of_anything(pixels) if len(passes) < 3 else outputs_for(*[closer_reads] * len(pixels))

        outputs = read_batch(batch, forward)
        assert len(passes) == 3
        assert (batch.requests[0].first_row == sum(passes[:2])) == taken
        answer = batch_answers(batch, outputs, non_digit_threshold=0.5)[0]
        assert answer["is_digit"] == taken and set(answer["number"]) <= {"2"}


def test_touching_numbers_the_first_cuts_leave_unread_are_read_by_the_closer_look(monkeypatch):
    digits = dict(one_of_each_digit())
    model = torch.jit.load(str(INT8_MODEL)).eval()
    canvases = {"61": ink_png(number_canvas([digits[6], digits[1]], height=150, gap=-10)),  # a thin 1
                "64": ink_png(number_canvas([digits[6], digits[4]], height=150, gap=-10))}

    answers = read_answers(model, list(canvases.values()))
    assert [(answer["number"], answer["is_digit"]) for answer in answers] == [(number, True) for number in canvases]
    monkeypatch.setattr(mnist_batch, "CLOSER_SURE", 1.1)  # never taken
    assert not any(answer["is_digit"] for answer in read_answers(model, list(canvases.values())))


def test_a_touching_pair_and_a_broken_digit_are_read_right_by_the_shipped_model():
    digits = dict(one_of_each_digit())
    model = torch.jit.load(str(INT8_MODEL)).eval()
    canvases = {"48": ink_png(number_canvas([digits[4], digits[8]], height=150, gap=-10)),
                "35": ink_png(number_canvas([digits[3], digits[5]], height=150, gap=-10)),
                "31": ink_png(number_canvas([digits[3], digits[1]], height=150, gap=40, broken=(0,)))}
    for number, answer in zip(canvases, read_answers(model, list(canvases.values()))):
        assert answer["number"] == number and answer["is_digit"], (number, answer["number"])


def test_broken_digits_the_model_reads_as_no_digit_are_read_from_their_strokes_closed(monkeypatch):
    images, labels = mnist_test_set()
    model = torch.jit.load(str(INT8_MODEL)).eval()
    canvases = {int(labels[index]): ink_png(number_canvas([images[index]], height=120, broken=(0,)))
                for index in (46, 160)}  # a 1 and a 4, a band across each erased

    answers = read_answers(model, list(canvases.values()))
    assert [(answer["number"], answer["is_digit"]) for answer in answers] == [(str(d), True) for d in canvases]
    monkeypatch.setattr(mnist_segment, "closed", lambda symbol, line_height: symbol)  # no gap filled
    assert not any(answer["is_digit"] for answer in read_answers(model, list(canvases.values())))


def test_a_decimal_point_and_a_minus_sign_are_listed_as_no_digits_by_the_shipped_model():
    digits = dict(one_of_each_digit())
    model = torch.jit.load(str(INT8_MODEL)).eval()
    canvases = {"3.5": with_decimal_point(number_canvas([digits[3], digits[5]], height=150, gap=40), 10),
                "-42": with_minus_sign(number_canvas([digits[4], digits[2]], height=150, gap=40))}
    for written, answer in zip(canvases, read_answers(model, [ink_png(canvas) for canvas in canvases.values()])):
        read = "".join(symbol.get("mark", str(symbol["digit"])) for symbol in answer["digits"])
        assert read == written and answer["number"] == "".join(filter(str.isdigit, written)), answer
        assert not answer["is_digit"] and "only digits are read" in answer["reason"]
        assert [symbol["is_digit"] for symbol in answer["digits"]] == [symbol.get("mark") is None
                                                                       for symbol in answer["digits"]]


def test_an_exception_of_any_kind_on_one_request_stays_that_requests_400():
    batch = prepare_batch([{"body": {"image": 7}}, {"body": canvas_png(one_of_each_digit()[1][1])}])
    assert batch.errors[0].status == 400 and list(batch.requests) == [1]


def test_an_all_bad_batch_needs_no_inference():
    batch = prepare_batch([{"body": b"x"}, {}])
    assert batch.requests == {} and batch.pixels.shape[0] == 0
    assert all("error" in answer for answer in batch_answers(batch, None, non_digit_threshold=0.5))


def test_device_choice():
    assert choose_device(None, cuda_available=False) == torch.device("cpu")
    assert choose_device(None, cuda_available=True) == torch.device("cpu")
    assert choose_device(0, cuda_available=False) == torch.device("cpu")
    assert choose_device(1, cuda_available=True) == torch.device("cuda:1")
    assert choose_device("0", cuda_available=True) == torch.device("cuda:0")


def test_cpu_workers_serve_the_int8_file_where_the_x86_kernels_are():
    assert int8_file(SERIALIZED_MODEL) == INT8_MODEL  # the name training/quantize.py writes
    cpu, gpu = torch.device("cpu"), torch.device("cuda:0")
    assert model_file(SERIALIZED_MODEL, cpu, ["qnnpack", "x86", "fbgemm"]) == INT8_MODEL
    assert model_file(SERIALIZED_MODEL, cpu, ["qnnpack"]) == SERIALIZED_MODEL
    assert model_file(SERIALIZED_MODEL, gpu, ["qnnpack", "x86"]) == SERIALIZED_MODEL


def test_a_second_pass_that_fails_on_one_drawing_leaves_its_first_reading_and_the_others_alone(monkeypatch):
    digits = dict(one_of_each_digit())
    touching = ink_png(number_canvas([digits[4], digits[8]], height=150, gap=-10))
    batch = prepare_batch([{"body": touching}, {"body": touching}])
    broken = batch.requests[0].drawing

    def fails(candidates):
        raise ValueError("a cut part vanished")

    monkeypatch.setattr(broken, "fitted", fails)
    outputs = read_batch(batch, not_sure_of_anything)
    assert batch.requests[0].first_row == 0 and len(batch.requests[0].boxes) == 1
    assert batch.requests[1].first_row == 2 and len(outputs) == len(batch.pixels) > 2
