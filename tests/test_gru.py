"""The GRU: gru_forward / gru_backward and nn.GRU.

The GRU is tested as the LSTM is, case for case: the tests are in tests/gated.py (see
there), and run here for the GRU -- the C engine against the NumPy engine, against
PyTorch's autograd, the nn layer, the C engine's bits (TestGRU); the finite differences
(TestGradients).  gru_forward's bad gate dimensions are named in tests/test_lstm.py's
test_bad_gate_dimensions_are_named, beside the LSTM's.

The matrices every function goes through (bad inputs, properties, threads, leaks,
recorded bits) are generated from its spec in tests/specs.py.
"""
from gated import classes_for, torch  # noqa: F401 (torch: the shared tests' fixture)

# The tests the GRU shares with the LSTM (tests/gated.py), run for the GRU:
# TestGRU (the engines, PyTorch, the layer, the C engine's bits) and TestGradients
# (finite differences).
TestGRU, TestGradients = classes_for("gru")
