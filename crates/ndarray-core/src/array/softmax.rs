//! `softmax`, `log_softmax` and attention's causal softmax along the last axis: the backend's
//! fused kernel where it has one, else the composed form (max, shift, exp, sum, normalise).

use super::NDArray;
use crate::op::Softmax;
use crate::{Backend, BinaryOp, Error, Float, Result, ScalarSide};

impl<E: Float, B: Backend> NDArray<E, B> {
    /// `op` along the last axis (see [`Softmax`]): stable (the row maximum is subtracted first).
    pub fn softmax_last(&self, op: Softmax) -> Result<Self> {
        self.check_softmax("softmax", op)?;
        if let Some(out) = self
            .backend
            .softmax_last(&self.storage(), self.layout(), op)
        {
            return Ok(Self::contiguous_from(
                out?,
                self.shape().clone(),
                &self.backend,
            ));
        }
        let x = self.binary_scalar(BinaryOp::Mul, E::from_f64(op.scale), ScalarSide::Right)?;
        let x = match self.causal_mask(op)? {
            Some(allowed) => {
                let neg_inf = NDArray::scalar(E::from_f64(f64::NEG_INFINITY), &self.backend)?;
                NDArray::where_cond(&allowed, &x, &neg_inf)?
            }
            None => x,
        };
        let shifted = x.sub(&x.max(&[-1], true)?)?;
        if op.log {
            shifted.sub(&shifted.exp()?.sum(&[-1], true)?.log()?)
        } else {
            let e = shifted.exp()?;
            e.div(&e.sum(&[-1], true)?)
        }
    }

    /// The gradient of `x` for `y = x.softmax_last(op)` given the gradient `g` of `y`:
    /// `scale·y⊙(g − Σ g⊙y)`, or `scale·(g − e^y·Σ g)` for log, 0 where the causal mask hides a
    /// key (sums along the last axis).
    pub fn softmax_last_backward(y: &Self, g: &Self, op: Softmax) -> Result<Self> {
        y.check_softmax("softmax backward", op)?;
        y.check_device("softmax backward", g)?;
        if y.shape() != g.shape() {
            return Err(Error::ShapeMismatch {
                op: "softmax backward",
                what: "the output and its gradient must have one shape",
                lhs: y.shape().clone(),
                rhs: g.shape().clone(),
            });
        }
        if let Some(out) =
            y.backend
                .softmax_last_backward(&y.storage(), y.layout(), &g.storage(), g.layout(), op)
        {
            return Ok(Self::contiguous_from(out?, y.shape().clone(), &y.backend));
        }
        let dx = if op.log {
            let dx = g.sub(&y.exp()?.mul(&g.sum(&[-1], true)?)?)?;
            match y.causal_mask(op)? {
                Some(allowed) => {
                    NDArray::where_cond(&allowed, &dx, &NDArray::scalar(E::ZERO, &y.backend)?)?
                }
                None => dx,
            }
        } else {
            y.mul(&g.sub(&g.mul(y)?.sum(&[-1], true)?)?)?
        };
        dx.binary_scalar(BinaryOp::Mul, E::from_f64(op.scale), ScalarSide::Right)
    }

    fn check_softmax(&self, name: &'static str, op: Softmax) -> Result<()> {
        let need = if op.causal { 2 } else { 1 };
        if self.rank() < need {
            return Err(Error::invalid(
                name,
                if op.causal {
                    "the causal mask needs at least 2 axes [..., L, S]"
                } else {
                    "needs at least one axis"
                },
                self.shape(),
            ));
        }
        Ok(())
    }

    /// `[L, S]`, 1 where query `i` may see key `j` (`j ≤ i`) and 0 elsewhere, for a causal `op`.
    fn causal_mask(&self, op: Softmax) -> Result<Option<NDArray<E, B>>> {
        if !op.causal {
            return Ok(None);
        }
        let (l, s) = (self.dims()[self.rank() - 2], self.dims()[self.rank() - 1]);
        let rows = NDArray::<E, B>::arange(0.0, l as f64, 1.0, &self.backend)?.reshape([l, 1])?;
        let cols = NDArray::<E, B>::arange(0.0, s as f64, 1.0, &self.backend)?.reshape([1, s])?;
        cols.binary(BinaryOp::Le, &rows).map(Some)
    }
}

impl<E: Float, B: Backend> NDArray<E, B> {
    /// Cross-entropy of each row of these `[rows, classes]` logits against the class indices
    /// `target` (`[rows]`) in the backend's fused kernel (see [`Backend::cross_entropy_rows`]):
    /// `Some((loss, lse))`, both `[rows]`, or `None` when the backend has no fused kernel for
    /// these arrays (the caller composes the loss from `log_softmax` and `gather`).
    pub fn cross_entropy_rows(
        &self,
        target: &NDArray<i64, B>,
        ignore_index: i64,
    ) -> Result<Option<(Self, Self)>> {
        self.check_cross_entropy(target, &[])?;
        let Some(out) = self.backend.cross_entropy_rows(
            &self.storage(),
            self.layout(),
            &target.storage(),
            target.layout(),
            ignore_index,
        ) else {
            return Ok(None);
        };
        let (loss, lse) = out?;
        let rows = target.shape().clone();
        Ok(Some((
            Self::contiguous_from(loss, rows.clone(), &self.backend),
            Self::contiguous_from(lse, rows, &self.backend),
        )))
    }

    /// The gradient of [`NDArray::cross_entropy_rows`]' losses with respect to these logits,
    /// from the forward pass's `lse` and the losses' gradient `grad`, in the backend's fused
    /// kernel; `None` when it has none for these arrays.
    pub fn cross_entropy_rows_backward(
        &self,
        lse: &Self,
        target: &NDArray<i64, B>,
        grad: &Self,
        ignore_index: i64,
    ) -> Result<Option<Self>> {
        self.check_cross_entropy(target, &[lse, grad])?;
        let Some(out) = self.backend.cross_entropy_rows_backward(
            &self.storage(),
            self.layout(),
            &lse.storage(),
            lse.layout(),
            &target.storage(),
            target.layout(),
            &grad.storage(),
            grad.layout(),
            ignore_index,
        ) else {
            return Ok(None);
        };
        Ok(Some(Self::contiguous_from(
            out?,
            self.shape().clone(),
            &self.backend,
        )))
    }

    /// Logits `[rows, classes]`, targets `[rows]` and each of `per_row` `[rows]`, on one device.
    fn check_cross_entropy(&self, target: &NDArray<i64, B>, per_row: &[&Self]) -> Result<()> {
        let op = "cross_entropy";
        self.check_device(op, target)?;
        let fits = self.rank() == 2 && target.dims() == [self.dims()[0]];
        if !fits {
            return Err(crate::Error::ShapeMismatch {
                op,
                what: "expected logits [rows, classes] and targets [rows]",
                lhs: self.shape().clone(),
                rhs: target.shape().clone(),
            });
        }
        for a in per_row {
            self.check_device(op, a)?;
            if a.dims() != target.dims() {
                return Err(crate::Error::ShapeMismatch {
                    op,
                    what: "expected one value per row of the logits",
                    lhs: self.shape().clone(),
                    rhs: a.shape().clone(),
                });
            }
        }
        Ok(())
    }
}
