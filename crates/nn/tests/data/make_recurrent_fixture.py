"""Writes recurrent.safetensors: PyTorch's RNN/LSTM/GRU and their cells on small seeded inputs.

Run once with PyTorch and `safetensors` (written with torch 2.15, safetensors 0.8); the output
is committed, and the Rust tests (`crates/nn/tests/recurrent.rs`) read it without Python:

    python crates/nn/tests/data/make_recurrent_fixture.py

Everything is float64. For each case `<case>` the file holds
- `<case>.state.<key>`: the module's state dict under PyTorch's own keys (`weight_ih_l0`, …),
- `<case>.input`, and `<case>.h0` / `<case>.c0` when an initial state is passed,
- `<case>.lengths` (int64) for the cases run through `pack_padded_sequence`,
- `<case>.output`, `<case>.h_n`, `<case>.c_n` (LSTM) — for a cell, `<case>.h` and `<case>.c`,
- `<case>.grad.<name>`: the gradient of `loss` below w.r.t. the input, the initial state and
  every parameter.

The loss is `sum(output²) + sum(h_n³) + sum(c_n)` (a cell: `sum(h²) + sum(c³)`), so that every
output feeds the gradient with a different weight.
"""
import os

import torch
from safetensors.torch import save_file
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)

INPUT, HIDDEN = 3, 4
tensors = {}


def leaf(*shape):
    return torch.randn(*shape).requires_grad_(True)


def record(case, module, inputs, outputs, loss):
    """Saves the state dict, the inputs, the outputs and every gradient of `loss`."""
    loss.backward()
    for key, value in module.state_dict().items():
        tensors[f"{case}.state.{key}"] = value
    for name, value in module.named_parameters():
        tensors[f"{case}.grad.{name}"] = value.grad
    for name, value in inputs.items():
        if value.dtype == torch.int64:
            tensors[f"{case}.{name}"] = value
        else:
            tensors[f"{case}.{name}"] = value.detach()
            tensors[f"{case}.grad.{name}"] = value.grad
    for name, value in outputs.items():
        tensors[f"{case}.{name}"] = value.detach()


def layer_loss(output, h_n, c_n=None):
    loss = output.pow(2).sum() + h_n.pow(3).sum()
    return loss if c_n is None else loss + c_n.sum()


def run_layer(case, module, x, h0=None, c0=None, lengths=None):
    """Runs a full layer (with `pack_padded_sequence` when `lengths` is given) and records it."""
    inputs = {"input": x}
    if h0 is not None:
        inputs["h0"] = h0
    if c0 is not None:
        inputs["c0"] = c0
    state = None
    if isinstance(module, nn.LSTM) and h0 is not None:
        state = (h0, c0)
    elif h0 is not None:
        state = h0
    seq = x
    if lengths is not None:
        inputs["lengths"] = lengths
        seq = pack_padded_sequence(x, lengths, batch_first=module.batch_first, enforce_sorted=False)
    out, final = module(seq, state)
    if lengths is not None:
        out, _ = pad_packed_sequence(out, batch_first=module.batch_first, total_length=x.shape[1 if module.batch_first else 0])
    if isinstance(module, nn.LSTM):
        h_n, c_n = final
        outputs = {"output": out, "h_n": h_n, "c_n": c_n}
    else:
        h_n, c_n = final, None
        outputs = {"output": out, "h_n": h_n}
    record(case, module, inputs, outputs, layer_loss(out, h_n, c_n))


# Full layers. Shapes: time 5, batch 3 (time-major unless batch_first).
run_layer("rnn_tanh", nn.RNN(INPUT, HIDDEN, num_layers=2), leaf(5, 3, INPUT), h0=leaf(2, 3, HIDDEN))
run_layer(
    "rnn_relu",
    nn.RNN(INPUT, HIDDEN, nonlinearity="relu", bias=False, bidirectional=True),
    leaf(5, 3, INPUT),
)
run_layer("lstm", nn.LSTM(INPUT, HIDDEN), leaf(5, 3, INPUT), h0=leaf(1, 3, HIDDEN), c0=leaf(1, 3, HIDDEN))
run_layer(
    "lstm_deep",
    nn.LSTM(INPUT, HIDDEN, num_layers=2, bidirectional=True, batch_first=True),
    leaf(3, 5, INPUT),
)
run_layer("gru", nn.GRU(INPUT, HIDDEN, bidirectional=True), leaf(5, 3, INPUT), h0=leaf(2, 3, HIDDEN))
# Unbatched: a 2-d input [time, features] and a 2-d state [layers, hidden].
run_layer("gru_unbatched", nn.GRU(INPUT, HIDDEN, num_layers=2), leaf(5, INPUT), h0=leaf(2, HIDDEN))

# Sequences of lengths 5, 2 and 4 in one padded batch, unsorted (enforce_sorted=False).
lengths = torch.tensor([5, 2, 4], dtype=torch.int64)
run_layer(
    "lstm_packed",
    nn.LSTM(INPUT, HIDDEN, num_layers=2, bidirectional=True),
    leaf(5, 3, INPUT),
    h0=leaf(4, 3, HIDDEN),
    c0=leaf(4, 3, HIDDEN),
    lengths=lengths,
)
run_layer(
    "gru_packed",
    nn.GRU(INPUT, HIDDEN, bidirectional=True, batch_first=True),
    leaf(3, 5, INPUT),
    h0=leaf(2, 3, HIDDEN),
    lengths=lengths,
)
run_layer("rnn_packed", nn.RNN(INPUT, HIDDEN, bidirectional=True), leaf(5, 3, INPUT), lengths=lengths)


# Cells: one step on a batch of 3, from a given state.
def run_cell(case, module, x, h, c=None):
    inputs = {"input": x, "h0": h}
    if c is not None:
        inputs["c0"] = c
        h1, c1 = module(x, (h, c))
        record(case, module, inputs, {"h": h1, "c": c1}, h1.pow(2).sum() + c1.pow(3).sum())
    else:
        h1 = module(x, h)
        record(case, module, inputs, {"h": h1}, h1.pow(2).sum())


run_cell("rnn_cell", nn.RNNCell(INPUT, HIDDEN), leaf(3, INPUT), leaf(3, HIDDEN))
run_cell("rnn_cell_relu", nn.RNNCell(INPUT, HIDDEN, nonlinearity="relu"), leaf(3, INPUT), leaf(3, HIDDEN))
run_cell("lstm_cell", nn.LSTMCell(INPUT, HIDDEN), leaf(3, INPUT), leaf(3, HIDDEN), leaf(3, HIDDEN))
run_cell("gru_cell", nn.GRUCell(INPUT, HIDDEN), leaf(3, INPUT), leaf(3, HIDDEN))
# Unbatched cell: 1-d input and state.
run_cell("gru_cell_unbatched", nn.GRUCell(INPUT, HIDDEN, bias=False), leaf(INPUT), leaf(HIDDEN))

here = os.path.dirname(os.path.abspath(__file__))
contiguous = {k: v.detach().clone().contiguous() for k, v in tensors.items()}
save_file(contiguous, os.path.join(here, "recurrent.safetensors"), metadata={"written_by": "make_recurrent_fixture.py"})
