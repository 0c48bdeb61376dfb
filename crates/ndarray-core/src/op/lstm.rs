//! One LSTM step's element-wise part, per hidden unit: the definition the fused kernels compute
//! (the composed form in `NDArray::lstm_cell_composed` applies the same functions in the same
//! order to whole arrays, so both give the same bits).

use super::unary::unary_kernels::{Sigmoid, Tanh};
use super::UnaryKernel;
use crate::Float;

/// What one LSTM step computes for `W` hidden units (one per lane), from their four gate
/// pre-activations (PyTorch's order: input i, forget f, cell g, output o) and cell states `c`:
/// `c' = σ(f)·c + σ(i)·tanh(g)`, `h' = σ(o)·tanh(c')`, and the factors the backward pass needs.
/// Each value is one loop over the lanes, so a kernel that takes `W` = 8 or 16 units at a time
/// gets vector code (the same bits as `W` = 1: the functions are the same per lane).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LstmUnit<E, const W: usize> {
    /// The new hidden state `h'`.
    pub h: [E; W],
    /// The new cell state `c'`.
    pub c: [E; W],
    /// `∂c'/∂gate` times the gate's slope, for gates i, f, g, and `tanh(c')·σ'(o)` for o (to be
    /// multiplied by `h'`'s gradient rather than `c'`'s): `[g·σ'(i), c·σ'(f), σ(i)·tanh'(g),
    /// tanh(c')·σ'(o)]`, where `σ' = σ(1 − σ)` and `tanh' = 1 − tanh²`.
    pub qd: [[E; W]; 4],
    /// `∂h'/∂c' = σ(o)·tanh'(c')`.
    pub s_c: [E; W],
    /// The forget gate `σ(f)` (`∂c'/∂c`).
    pub f: [E; W],
}

/// `[f(0), …, f(W − 1)]`.
#[inline(always)]
fn lanes<E, const W: usize>(f: impl Fn(usize) -> E) -> [E; W] {
    std::array::from_fn(f)
}

impl<E: Float, const W: usize> LstmUnit<E, W> {
    /// The units' values from their gate pre-activations `[i, f, g, o]` and cell states `c`.
    #[inline(always)]
    pub fn new([pi, pf, pg, po]: [[E; W]; 4], c: [E; W]) -> Self {
        let i: [E; W] = lanes(|l| Sigmoid::apply(pi[l]));
        let f: [E; W] = lanes(|l| Sigmoid::apply(pf[l]));
        let o: [E; W] = lanes(|l| Sigmoid::apply(po[l]));
        let g: [E; W] = lanes(|l| Tanh::apply(pg[l]));
        let c_new: [E; W] = lanes(|l| f[l] * c[l] + i[l] * g[l]);
        let tc: [E; W] = lanes(|l| Tanh::apply(c_new[l]));
        let slope = |s: E| s * (E::ONE - s);
        LstmUnit {
            h: lanes(|l| o[l] * tc[l]),
            c: c_new,
            qd: [
                lanes(|l| g[l] * slope(i[l])),
                lanes(|l| c[l] * slope(f[l])),
                lanes(|l| i[l] * (E::ONE - g[l] * g[l])),
                lanes(|l| tc[l] * slope(o[l])),
            ],
            s_c: lanes(|l| o[l] * (E::ONE - tc[l] * tc[l])),
            f,
        }
    }
}

/// The backward pass of [`LstmUnit`] for `W` hidden units: from the gradients `dh` and `dc` of
/// `h'` and `c'` and the step's saved factors, the gradients of the four gate pre-activations and
/// of the cell state `c` the step started from. `c'` reaches the loss directly and through
/// `h' = o·tanh(c')`, so its whole gradient is `dc_all = dh·s_c + dc`; then
/// `d_pre = [dc_all·qd_i, dc_all·qd_f, dc_all·qd_g, dh·qd_o]` and `dc_prev = dc_all·f`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LstmUnitGrad<E, const W: usize> {
    /// The gradients of the gate pre-activations, gates i, f, g, o.
    pub d_pre: [[E; W]; 4],
    /// The gradient of the cell state the step started from.
    pub dc: [E; W],
}

impl<E: Float, const W: usize> LstmUnitGrad<E, W> {
    /// The units' gradients; `qd`, `s_c` and `f` are [`LstmUnit`]'s fields of the same units.
    #[inline(always)]
    pub fn new(dh: [E; W], dc: [E; W], qd: [[E; W]; 4], s_c: [E; W], f: [E; W]) -> Self {
        let dc_all: [E; W] = lanes(|l| dh[l] * s_c[l] + dc[l]);
        LstmUnitGrad {
            d_pre: [
                lanes(|l| dc_all[l] * qd[0][l]),
                lanes(|l| dc_all[l] * qd[1][l]),
                lanes(|l| dc_all[l] * qd[2][l]),
                lanes(|l| dh[l] * qd[3][l]),
            ],
            dc: lanes(|l| dc_all[l] * f[l]),
        }
    }
}
