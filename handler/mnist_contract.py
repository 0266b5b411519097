"""What the model takes and gives: shared by the handler that feeds it and the training that makes it.

Input: (N, 1, MNIST_SIDE, MNIST_SIDE) pixels in [0, 1], light ink on a dark field, as MNIST's scans.
Output: (N, NUM_OUTPUTS): the ten digits' calibrated probabilities, then P(not a digit), then how
unfamiliar the drawing looks beside training digits (1 at the threshold the training chose).
"""

MNIST_SIDE = 28
NUM_DIGITS = 10
NOT_A_DIGIT = NUM_DIGITS  # the eleventh class: a drawing that is not a digit
NUM_CLASSES = NUM_DIGITS + 1
# The served model's last column: a distance in its layers' statistics to training digits, divided
# by the one that flags few validation digits. It says what a whole drawing is, not a part cut from
# one: parts are unlike every whole training digit (docs/RECOGNITION.md, "Kinds never seen").
UNFAMILIARITY = NUM_CLASSES
NUM_OUTPUTS = NUM_CLASSES + 1
# Every answer says which version of the model gave it (the archive's --version), so the web front
# can count and log by version and a correction can name the model it corrects (docs/LIFECYCLE.md).
MODEL_VERSION_HEADER = "X-Model-Version"


def flagged(outputs, non_digit_threshold: float):
    """Per row of the served model's outputs for whole drawings: whether it is no digit, by its
    eleventh class or by looking unlike every training digit."""
    return (outputs[..., NOT_A_DIGIT] >= non_digit_threshold) | (outputs[..., UNFAMILIARITY] >= 1)
