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
        let saved = if save {
            Some(LstmSaved {
                qd: Self::zeros(pre.shape().clone(), &pre.backend)?,
                s_c: Self::zeros(c.shape().clone(), &pre.backend)?,
                f: Self::zeros(c.shape().clone(), &pre.backend)?,
            })
        } else {
            None
        };
        let (h, c_new) = Self::lstm_cell_into(pre, c, saved.as_ref())?;
        Ok(LstmStep { h, c: c_new, saved })
    }

    /// [`NDArray::lstm_cell`] that writes the backward pass's factors into `saved` (writable
    /// arrays or views of the shapes `lstm_cell` gives them, such as one step's rows of a whole
    /// sequence's) and returns `(h', c')`. A sequence's forward pass keeps every step's factors
    /// until its backward pass; allocated step by step, those buffers went back to the allocator
    /// all at once after it, which handed its heap back to the system and faulted it in again on
    /// the next pass (about 780 page faults a pass in the LSTM benchmark).
    pub fn lstm_cell_into(
        pre: &Self,
        c: &Self,
        saved: Option<&LstmSaved<E, B>>,
    ) -> Result<(Self, Self)> {
        check_shapes(pre, c)?;
        let Some(saved) = saved else {
            let out =
                pre.backend
                    .lstm_cell(&pre.storage(), pre.layout(), &c.storage(), c.layout(), None);
            return match out {
                Some(out) => Self::cell_outputs(out?, c),
                None => Self::lstm_cell_composed(pre, c, false).map(|s| (s.h, s.c)),
            };
        };
        let what = "saved factors must be qd [batch, 4*hidden], s_c and f [batch, hidden]";
        for (a, like) in [(&saved.qd, pre), (&saved.s_c, c), (&saved.f, c)] {
            check_like("lstm_cell", what, a, like)?;
            crate::checks::writable("lstm_cell", a.layout())?;
        }
        let arrays = [pre, c, &saved.qd, &saved.s_c, &saved.f];
        let distinct = (0..5).all(|i| (0..i).all(|j| !arrays[i].same_storage(arrays[j])));
        if distinct {
            let (pre_s, c_s) = (pre.storage(), c.storage());
            let (mut qd, mut s_c, mut f) = (
                saved.qd.storage_mut(),
                saved.s_c.storage_mut(),
                saved.f.storage_mut(),
            );
            let outs = [
                (&mut *qd, saved.qd.layout()),
                (&mut *s_c, saved.s_c.layout()),
                (&mut *f, saved.f.layout()),
            ];
            if let Some(out) =
                pre.backend
                    .lstm_cell(&pre_s, pre.layout(), &c_s, c.layout(), Some(outs))
            {
                return Self::cell_outputs(out?, c);
            }
        }
        let step = Self::lstm_cell_composed(pre, c, true)?;
        let composed = step
            .saved
            .ok_or_else(|| Error::msg("lstm_cell: no factors came back"))?;
        saved.qd.assign(&composed.qd)?;
        saved.s_c.assign(&composed.s_c)?;
        saved.f.assign(&composed.f)?;
        Ok((step.h, step.c))
    }

    /// `(h', c')` from a backend's `lstm_cell` storages.
    fn cell_outputs(out: Vec<B::Storage<E>>, c: &Self) -> Result<(Self, Self)> {
        let mut out = out.into_iter();
        let mut next = || match out.next() {
            Some(s) => Ok(Self::contiguous_from(s, c.shape().clone(), &c.backend)),
            None => Err(Error::msg("lstm_cell: the backend returned too few arrays")),
        };
        Ok((next()?, next()?))
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
    /// the gate pre-activations `[n, 4·hidden]` and of the cell state the step started from
    /// ([`LstmUnitGrad`](crate::op::LstmUnitGrad) per element).
    pub fn backward(
        &self,
        dh: &NDArray<E, B>,
        dc: &NDArray<E, B>,
    ) -> Result<(NDArray<E, B>, NDArray<E, B>)> {
        let d_pre = NDArray::zeros(self.qd.shape().clone(), &dh.backend)?;
        let dc_prev = self.backward_into(dh, dc, &d_pre)?;
        Ok((d_pre, dc_prev))
    }

    /// [`LstmSaved::backward`] that writes `d_pre` into `d_pre_out` (an `[n, 4·hidden]` array
    /// or view, such as one step's rows of a whole sequence's gradients) and returns `dc_prev`.
    /// One pass of the backend's fused kernel where it has one, else
    /// [`LstmSaved::backward_composed`] (the same bits). Writing in place spares a sequence's
    /// backward pass an allocation and a copy per step.
    pub fn backward_into(
        &self,
        dh: &NDArray<E, B>,
        dc: &NDArray<E, B>,
        d_pre_out: &NDArray<E, B>,
    ) -> Result<NDArray<E, B>> {
        const OP: &str = "lstm_cell backward";
        check_shapes(&self.qd, dh)?;
        check_like(OP, "dc must have dh's shape", dc, dh)?;
        for a in [&self.s_c, &self.f] {
            check_like(OP, "saved factors must have dh's shape", a, dh)?;
        }
        let what = "the output must be [batch, 4*hidden] like the saved qd";
        check_like(OP, what, d_pre_out, &self.qd)?;
        crate::checks::writable(OP, d_pre_out.layout())?;
        let inputs = [dh, dc, &self.qd, &self.s_c, &self.f];
        if inputs.iter().all(|a| !a.same_storage(d_pre_out)) {
            let [dh_s, dc_s, qd_s, s_c_s, f_s] = inputs.map(|a| a.storage());
            let grads = [(&*dh_s, dh.layout()), (&*dc_s, dc.layout())];
            let saved = [
                (&*qd_s, self.qd.layout()),
                (&*s_c_s, self.s_c.layout()),
                (&*f_s, self.f.layout()),
            ];
            let mut out = d_pre_out.storage_mut();
            let fused = dh
                .backend
                .lstm_cell_backward(grads, saved, (&mut out, d_pre_out.layout()));
            if let Some(dc_prev) = fused {
                return Ok(NDArray::contiguous_from(
                    dc_prev?,
                    dh.shape().clone(),
                    &dh.backend,
                ));
            }
        }
        let (d_pre, dc_prev) = self.backward_composed(dh, dc)?;
        d_pre_out.assign(&d_pre)?;
        Ok(dc_prev)
    }

    /// [`LstmSaved::backward`] composed from element-wise ops, on any backend, in
    /// [`LstmUnitGrad`](crate::op::LstmUnitGrad)'s order (so the same bits as the fused kernels).
    pub fn backward_composed(
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

/// `a` is on `like`'s device and of its shape; else an error of `op` saying `what`.
fn check_like<E: Float, B: Backend>(
    op: &'static str,
    what: &'static str,
    a: &NDArray<E, B>,
    like: &NDArray<E, B>,
) -> Result<()> {
    like.check_device(op, a)?;
    if a.shape() != like.shape() {
        return Err(Error::ShapeMismatch {
            op,
            what,
            lhs: a.shape().clone(),
            rhs: like.shape().clone(),
        });
    }
    Ok(())
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
