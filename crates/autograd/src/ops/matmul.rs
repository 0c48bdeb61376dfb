//! `matmul` with `torch.matmul`'s rules (1-D promotion, broadcast batch axes).
//!
//! Backward: for `C = A·B`, `dA = dC·Bᵀ` and `dB = Aᵀ·dC`. Transposes are views, and the backend
//! multiplies strided operands directly, so no copy is made. 1-D operands are promoted to
//! matrices (and the gradient reshaped back); broadcast batch axes are summed back with `sum_to`.

use crate::Tensor;
use nanotorch_ndarray_core::{Backend, Float, Result, Shape};

impl<E: Float, B: Backend> Tensor<E, B> {
    /// Matrix product, as `torch.matmul`.
    pub fn matmul(&self, rhs: &Self) -> Result<Self> {
        let out = self.array().matmul(rhs.array())?;
        Ok(Tensor::from_op(
            out,
            "matmul",
            &[self, rhs],
            |inputs, _, g| {
                let (a, b) = (&inputs[0], &inputs[1]);
                // The operands and the gradient in the promoted (matrix) shapes: the one rule
                // of 1-D promotion, shared with the forward pass.
                let s = Shape::matmul(a.shape(), b.shape())?;
                let (a2, b2) = (a.view(&s.lhs)?, b.view(&s.rhs)?);
                let g2 = g.reshape(&s.promoted_out)?;
                // Each gradient is produced in its input's layout: for `x·Wᵀ` (Linear), `Wᵀ` is a
                // transposed view, so its gradient is computed as `(dCᵀ·A)ᵀ` — the transpose of a
                // contiguous `[out, in]` product — and lands on W contiguous, ready for the optimizer.
                let grad_a = a
                    .requires_grad()
                    .then(|| {
                        let ga = if is_transposed(&a2) {
                            b2.matmul(&g2.transpose(-1, -2)?)?.transpose(-1, -2)?
                        } else {
                            g2.matmul(&b2.transpose(-1, -2)?)?
                        };
                        ga.sum_to(a2.shape())?.reshape(a.shape().clone())
                    })
                    .transpose()?;
                let grad_b = b
                    .requires_grad()
                    .then(|| {
                        let gb = if is_transposed(&b2) {
                            g2.transpose(-1, -2)?.matmul(&a2)?.transpose(-1, -2)?
                        } else {
                            a2.transpose(-1, -2)?.matmul(&g2)?
                        };
                        gb.sum_to(b2.shape())?.reshape(b.shape().clone())
                    })
                    .transpose()?;
                Ok(vec![grad_a, grad_b])
            },
        ))
    }
}

/// Whether the last two axes of `t` are a transposed view of a row-major matrix (column stride 1,
/// so the matrix's transpose is the contiguous one).
fn is_transposed<E: Float, B: Backend>(t: &Tensor<E, B>) -> bool {
    let strides = t.array().layout().strides();
    let dims = t.dims();
    let r = t.rank();
    r >= 2
        && dims[r - 2] > 1
        && dims[r - 1] > 1
        && strides[r - 2] == 1
        && strides[r - 1] == dims[r - 2]
}
