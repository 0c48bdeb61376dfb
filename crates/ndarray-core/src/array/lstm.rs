//! `lstm_cell`: one LSTM step's element-wise part ([`LstmUnit`](crate::op::LstmUnit) per
//! element) on arrays, through the backend's fused kernel where it has one, else composed from
//! element-wise ops.

use super::NDArray;
use crate::{Backend, BinaryOp, Error, Float, Result, ScalarSide, UnaryOp};

/// One LSTM step's outputs on arrays (see [`NDArray::lstm_cell`]).
#[derive(Debug, Clone)]
pub struct LstmStep<E: Float, B: Backend> {
    /// The new hidden state `h'`, `[n, hidden]`.
    pub h: NDArray<E, B>,
    /// The new cell state `c'`, `[n, hidden]`.
    pub c: NDArray<E, B>,
    /// The backward pass's factors, when they were asked for.
    pub saved: Option<LstmSaved<E, B>>,
}

/// The factors of an LSTM step's backward pass ([`LstmUnit`](crate::op::LstmUnit)'s `qd`,
/// `s_c` and `f`).
#[derive(Debug, Clone)]
pub struct LstmSaved<E: Float, B: Backend> {
    /// `[n, 4·hidden]`: per gate, what its pre-activation's gradient is `c'`'s gradient times
    /// (the output gate's slot: times `h'`'s gradient).
    pub qd: NDArray<E, B>,
    /// `∂h'/∂c'`, `[n, hidden]`.
    pub s_c: NDArray<E, B>,
    /// The forget gate, `∂c'/∂c`, `[n, hidden]`.
    pub f: NDArray<E, B>,
}

impl<E: Float, B: Backend> NDArray<E, B> {
    /// The element-wise part of an LSTM step from the summed gate pre-activations `pre`
    /// (`[n, 4·hidden]`, gates i, f, g, o) and the cell state `c` (`[n, hidden]`); with
    /// `save`, also the factors of its backward pass. One pass of the backend's fused kernel
    /// where it has one, else [`NDArray::lstm_cell_composed`] (the same bits).
    pub fn lstm_cell(pre: &Self, c: &Self, save: bool) -> Result<LstmStep<E, B>> {
        check_shapes(pre, c)?;
        if let Some(out) =
            pre.backend
                .lstm_cell(&pre.storage(), pre.layout(), &c.storage(), c.layout(), save)
        {
            let mut out = out?.into_iter();
            let mut next = |shape: &crate::Shape| match out.next() {
                Some(s) => Ok(Self::contiguous_from(s, shape.clone(), &pre.backend)),
                None => Err(Error::msg("lstm_cell: the backend returned too few arrays")),
            };
            let (h, c_new) = (next(c.shape())?, next(c.shape())?);
            let saved = if save {
                Some(LstmSaved {
                    qd: next(pre.shape())?,
                    s_c: next(c.shape())?,
                    f: next(c.shape())?,
                })
            } else {
                None
            };
            return Ok(LstmStep { h, c: c_new, saved });
        }
        Self::lstm_cell_composed(pre, c, save)
    }

    /// [`NDArray::lstm_cell`] composed from element-wise ops, on any backend:
    /// [`LstmUnit`](crate::op::LstmUnit)'s functions applied in its order to whole arrays, so
    /// the values are the fused kernels' bit for bit (the conformance suite checks them against each other).
    pub fn lstm_cell_composed(pre: &Self, c: &Self, save: bool) -> Result<LstmStep<E, B>> {
        let hidden = check_shapes(pre, c)?;
        let gate = |a: &Self, k: usize| a.narrow(1, k * hidden, hidden);
        let sig = pre.unary(UnaryOp::Sigmoid)?;
        let (i, f, o) = (gate(&sig, 0)?, gate(&sig, 1)?, gate(&sig, 3)?);
        let g = gate(pre, 2)?.unary(UnaryOp::Tanh)?;
        let c_new = f
            .binary(BinaryOp::Mul, c)?
            .binary(BinaryOp::Add, &i.binary(BinaryOp::Mul, &g)?)?;
        let tc = c_new.unary(UnaryOp::Tanh)?;
        let h = o.binary(BinaryOp::Mul, &tc)?;
        if !save {
            return Ok(LstmStep {
                h,
                c: c_new,
                saved: None,
            });
        }
        let one_minus = |a: &Self| a.binary_scalar(BinaryOp::Sub, E::ONE, ScalarSide::Left);
        // σ' = σ(1 − σ) for every slot, then the g slot overwritten with tanh' = 1 − g².
        let slopes = sig.binary(BinaryOp::Mul, &one_minus(&sig)?)?;
        gate(&slopes, 2)?.assign(&one_minus(&g.binary(BinaryOp::Mul, &g)?)?)?;
        let factors = NDArray::cat(&[g.clone(), c.clone(), i, tc.clone()], 1)?;
        let qd = factors.binary(BinaryOp::Mul, &slopes)?;
        let s_c = o.binary(BinaryOp::Mul, &one_minus(&tc.binary(BinaryOp::Mul, &tc)?)?)?;
        Ok(LstmStep {
            h,
            c: c_new,
            saved: Some(LstmSaved {
                qd,
                s_c,
                f: f.contiguous()?,
            }),
        })
    }
}

impl<E: Float, B: Backend> LstmSaved<E, B> {
    /// The gradients of a step's inputs from those of its outputs: `dh` and `dc` are the
    /// gradients of `h'` and `c'` (`[n, hidden]`); returns `(d_pre, dc_prev)`, the gradients of
    /// the gate pre-activations `[n, 4·hidden]` and of the cell state the step started from.
    /// `c'` reaches the loss directly and through `h' = o·tanh(c')`, so its whole gradient is
    /// `dc_all = dc + dh·s_c`; then `d_pre = [dc_all·qd_i, dc_all·qd_f, dc_all·qd_g, dh·qd_o]`
    /// and `dc_prev = dc_all·f`.
    pub fn backward(
        &self,
        dh: &NDArray<E, B>,
        dc: &NDArray<E, B>,
    ) -> Result<(NDArray<E, B>, NDArray<E, B>)> {
        let dc_all = dh
            .binary(BinaryOp::Mul, &self.s_c)?
            .binary(BinaryOp::Add, dc)?;
        let per_gate = NDArray::cat(
            &[dc_all.clone(), dc_all.clone(), dc_all.clone(), dh.clone()],
            1,
        )?;
        let d_pre = per_gate.binary(BinaryOp::Mul, &self.qd)?;
        let dc_prev = dc_all.binary(BinaryOp::Mul, &self.f)?;
        Ok((d_pre, dc_prev))
    }
}

/// `hidden` for a `pre` of `[n, 4·hidden]` and a `c` of `[n, hidden]` on one device.
fn check_shapes<E: Float, B: Backend>(pre: &NDArray<E, B>, c: &NDArray<E, B>) -> Result<usize> {
    pre.check_device("lstm_cell", c)?;
    let [n, hidden] = *c.dims() else {
        return Err(Error::ShapeMismatch {
            op: "lstm_cell",
            what: "the cell state must be [batch, hidden]",
            lhs: pre.shape().clone(),
            rhs: c.shape().clone(),
        });
    };
    if pre.rank() != 2 || pre.dims()[0] != n || hidden.checked_mul(4) != Some(pre.dims()[1]) {
        return Err(Error::ShapeMismatch {
            op: "lstm_cell",
            what: "gate pre-activations must be [batch, 4*hidden] for a cell state [batch, hidden]",
            lhs: pre.shape().clone(),
            rhs: c.shape().clone(),
        });
    }
    Ok(hidden)
}
