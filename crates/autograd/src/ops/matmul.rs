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
            |inputs, out, g| {
                let (a, b) = (&inputs[0], &inputs[1]);
                let a2 = if a.rank() == 1 {
                    a.unsqueeze(0)?
                } else {
                    a.clone()
                };
                let b2 = if b.rank() == 1 {
                    b.unsqueeze(1)?
                } else {
                    b.clone()
                };
                // The gradient in the promoted (matrix) shape: the output's shape with any axis that
                // 1-D promotion removed put back.
                let mut g_dims = out.dims()
                    [..out.rank() - usize::from(a.rank() > 1) - usize::from(b.rank() > 1)]
                    .to_vec();
                g_dims.push(a2.dims()[a2.rank() - 2]);
                g_dims.push(b2.dims()[b2.rank() - 1]);
                let g2 = g.reshape(Shape::from(g_dims))?;
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
