"""The serving path's ground floor: request bytes to model input and model output to the answer.

Pure modules (no TorchServe import) except ``mnist_handler``, the TorchServe hooks. Inside the
``.mar`` this package is laid out as it is here (serving/archive.py), so the same imports work in
the repository, in training and benchmarks, and in a TorchServe worker.
"""
