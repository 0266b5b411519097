"""What the model takes and gives: shared by the handler that feeds it and the training that makes it.

Input: (N, 1, MNIST_SIDE, MNIST_SIDE) pixels in [0, 1], light ink on a dark field, as MNIST's scans.
Output: (N, NUM_CLASSES): the ten digits' calibrated probabilities, then P(not a digit).
"""

MNIST_SIDE = 28
NUM_DIGITS = 10
NOT_A_DIGIT = NUM_DIGITS  # the eleventh class: a drawing that is not a digit
NUM_CLASSES = NUM_DIGITS + 1
# Every answer says which version of the model gave it (the archive's --version), so the web front
# can count and log by version and a correction can name the model it corrects (docs/LIFECYCLE.md).
MODEL_VERSION_HEADER = "X-Model-Version"
