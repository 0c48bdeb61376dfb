"""Writes attention.safetensors: PyTorch's outputs and gradients for the attention and
transformer layers that crates/nn/tests/attention.rs checks (run once; the output is committed).

    ~/torchenv/bin/python crates/nn/tests/data/make_attention_fixture.py

Everything is float64. Each case `c` saves under `c.` its inputs, the weight `c.w` of the scalar
loss `sum(out * w)` (plus `sum(attn * wa)` where attention weights are returned), the outputs,
`c.grad.<input>` for every input and, for modules, the state dict under `c.model.<key>` (PyTorch's
own keys, unchanged) and `c.grad.model.<key>` for every parameter. Boolean masks are stored as
0/1 float64 (safetensors readers in the tests take floats). Module parameters are redrawn from
N(0, 0.5²) after construction so that biases and LayerNorm affines are not trivially 0 or 1 and the
two layers of the TransformerEncoder differ (PyTorch deep-copies one layer into each slot).
"""
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)
out = {}


def randn(*shape):
    return torch.randn(*shape, dtype=torch.float64)


def leaf(*shape):
    return randn(*shape).requires_grad_(True)


def save_mask(name, mask):
    out[name] = mask.to(torch.float64)


def redraw(model):
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.5 * randn(*p.shape))


def finish(case, inputs, outputs, model=None):
    """Saves inputs, outputs, the loss weights and every gradient of the case."""
    loss = 0.0
    for name, t in outputs.items():
        w = randn(*t.shape)
        out[f"{case}.w_{name}"] = w
        out[f"{case}.{name}"] = t.detach().clone()
        loss = loss + (t * w).sum()
    loss.backward()
    for name, t in inputs.items():
        out[f"{case}.{name}"] = t.detach().clone()
        out[f"{case}.grad.{name}"] = t.grad.detach().clone()
    if model is not None:
        for key, t in model.state_dict().items():
            out[f"{case}.model.{key}"] = t.detach().clone()
        for key, p in model.named_parameters():
            out[f"{case}.grad.model.{key}"] = p.grad.detach().clone()


# --- scaled_dot_product_attention -------------------------------------------------------------
# Boolean mask (True = take part) broadcast over batch and heads; row 1 is fully masked, which
# PyTorch's SDPA turns into zeros (not NaN).
q, k, v = leaf(2, 2, 3, 4), leaf(2, 2, 5, 4), leaf(2, 2, 5, 3)
mask = torch.tensor(
    [[True, False, True, True, False], [False] * 5, [True, True, False, True, True]]
)
save_mask("sdpa_bool.mask", mask)
o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
finish("sdpa_bool", {"q": q, "k": k, "v": v}, {"out": o})

# Additive float mask [2, 1, 3, 5] broadcast over heads, with one -inf, and a custom scale.
q, k, v = leaf(2, 2, 3, 4), leaf(2, 2, 5, 4), leaf(2, 2, 5, 3)
mask = randn(2, 1, 3, 5)
mask[0, 0, 1, 2] = float("-inf")
out["sdpa_additive.mask"] = mask
o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=0.7)
finish("sdpa_additive", {"q": q, "k": k, "v": v}, {"out": o})

# is_causal with L = 3 < S = 5: the causal mask is tril of the [L, S] ones (top-left aligned).
q, k, v = leaf(2, 3, 4), leaf(2, 5, 4), leaf(2, 5, 2)
o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
finish("sdpa_causal", {"q": q, "k": k, "v": v}, {"out": o})

# --- MultiheadAttention -------------------------------------------------------------------------
# batch_first cross-attention with a key_padding_mask (True = ignore) and averaged weights.
mha = nn.MultiheadAttention(6, 3, batch_first=True)
redraw(mha)
mha.eval()
q, k, v = leaf(2, 3, 6), leaf(2, 4, 6), leaf(2, 4, 6)
kpm = torch.tensor([[False, False, True, False], [False, False, False, True]])
save_mask("mha.key_padding_mask", kpm)
o, a = mha(q, k, v, key_padding_mask=kpm, need_weights=True, average_attn_weights=True)
finish("mha", {"q": q, "k": k, "v": v}, {"out": o, "attn": a}, mha)

# Sequence-first self-attention with a boolean attn_mask (True = NOT allowed) and per-head weights.
mha = nn.MultiheadAttention(6, 2)
redraw(mha)
mha.eval()
x = leaf(4, 2, 6)
am = torch.tensor(
    [[False, True, False, True], [False, False, True, True], [True, False, False, False],
     [False, False, False, False]]
)
save_mask("mha_heads.attn_mask", am)
o, a = mha(x, x, x, attn_mask=am, need_weights=True, average_attn_weights=False)
finish("mha_heads", {"x": x}, {"out": o, "attn": a}, mha)

# Unbatched self-attention with a float 3-D attn_mask [num_heads, L, S], no weights.
mha = nn.MultiheadAttention(4, 2)
redraw(mha)
mha.eval()
x = leaf(3, 4)
am = randn(2, 3, 3)
out["mha_unbatched.attn_mask"] = am
o, _ = mha(x, x, x, attn_mask=am, need_weights=False)
finish("mha_unbatched", {"x": x}, {"out": o}, mha)

# --- Transformer layers (eval mode: dropout off) --------------------------------------------------
layer = nn.TransformerEncoderLayer(6, 2, dim_feedforward=8, batch_first=True)
redraw(layer)
layer.eval()
src = leaf(2, 3, 6)
kpm = torch.tensor([[False, False, True], [False, False, False]])
save_mask("enc_post_relu.src_key_padding_mask", kpm)
o = layer(src, src_key_padding_mask=kpm)
finish("enc_post_relu", {"src": src}, {"out": o}, layer)

layer = nn.TransformerEncoderLayer(6, 3, dim_feedforward=8, activation="gelu", norm_first=True)
redraw(layer)
layer.eval()
src = leaf(4, 2, 6)  # sequence first
causal = nn.Transformer.generate_square_subsequent_mask(4, dtype=torch.float64)
out["enc_pre_gelu.src_mask"] = causal
o = layer(src, src_mask=causal, is_causal=True)
finish("enc_pre_gelu", {"src": src}, {"out": o}, layer)

layer = nn.TransformerDecoderLayer(6, 2, dim_feedforward=8, batch_first=True)
redraw(layer)
layer.eval()
tgt, memory = leaf(2, 3, 6), leaf(2, 4, 6)
causal = nn.Transformer.generate_square_subsequent_mask(3, dtype=torch.float64)
mkpm = torch.tensor([[False, True, False, False], [False, False, False, True]])
out["dec.tgt_mask"] = causal
save_mask("dec.memory_key_padding_mask", mkpm)
o = layer(tgt, memory, tgt_mask=causal, memory_key_padding_mask=mkpm, tgt_is_causal=True)
finish("dec", {"tgt": tgt, "memory": memory}, {"out": o}, layer)

layer = nn.TransformerEncoderLayer(6, 2, dim_feedforward=8, batch_first=True)
encoder = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(6), enable_nested_tensor=False)
redraw(encoder)
encoder.eval()
src = leaf(2, 3, 6)
kpm = torch.tensor([[False, False, False], [False, True, False]])
save_mask("encoder.src_key_padding_mask", kpm)
o = encoder(src, src_key_padding_mask=kpm)
finish("encoder", {"src": src}, {"out": o}, encoder)

# --- Sinusoidal positions, as the PyTorch tutorial's PositionalEncoding (in float64) -----------
max_len, d_model = 10, 6
position = torch.arange(max_len, dtype=torch.float64).unsqueeze(1)
div_term = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float64) * (-math.log(10000.0) / d_model))
pe = torch.zeros(max_len, 1, d_model)
pe[:, 0, 0::2] = torch.sin(position * div_term)
pe[:, 0, 1::2] = torch.cos(position * div_term)
out["positional.pe"] = pe

here = os.path.dirname(os.path.abspath(__file__))
path = os.path.join(here, "attention.safetensors")
save_file({k: v.contiguous() for k, v in out.items()}, path,
          metadata={"written_by": "make_attention_fixture.py", "torch": torch.__version__})
print(f"wrote {path}: {os.path.getsize(path)} bytes, {len(out)} tensors")
