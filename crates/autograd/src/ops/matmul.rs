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
                let grad_a = a
                    .requires_grad()
                    .then(|| {
                        g2.matmul(&b2.transpose(-1, -2)?)?
                            .sum_to(a2.shape())?
                            .reshape(a.shape().clone())
                    })
                    .transpose()?;
                let grad_b = b
                    .requires_grad()
                    .then(|| {
                        a2.transpose(-1, -2)?
                            .matmul(&g2)?
                            .sum_to(b2.shape())?
                            .reshape(b.shape().clone())
                    })
                    .transpose()?;
                Ok(vec![grad_a, grad_b])
            },
        ))
    }
}
