//! `matmul` with `torch.matmul`'s rules (1-D promotion, broadcast batch axes).
//!
//! Backward: for `C = A·B`, `dA = dC·Bᵀ` and `dB = Aᵀ·dC`. Transposes are views, and the backend
//! multiplies strided operands directly, so no copy is made. 1-D operands are promoted to
//! matrices (and the gradient reshaped back); broadcast batch axes are summed back with `sum_to`.

use crate::Tensor;
use nanotorch_ndarray_core::{Backend, Error, Float, Result, Shape};

impl<E: Float, B: Backend> Tensor<E, B> {
    /// Matrix product, as `torch.matmul`.
    #[track_caller]
    pub fn matmul(&self, rhs: &Self) -> Result<Self> {
        let out = self.array().matmul(rhs.array())?;
        Tensor::try_from_op(out, "matmul", &[self, rhs], |inputs, _, g| {
            let [ga, gb] = product_grads(&inputs[0], &inputs[1], g)?;
            Ok(vec![ga, gb])
        })
    }

    /// `self·rhs + addend`, `addend` broadcast to the product's shape (checked by the caller),
    /// in one pass where the backend can ([`NDArray::matmul_add`]); recorded as `op`.
    #[track_caller]
    fn matmul_add(&self, rhs: &Self, addend: &Self, op: &'static str) -> Result<Self> {
        let out = self.array().matmul_add(rhs.array(), addend.array())?;
        Tensor::try_from_op(out, op, &[self, rhs, addend], |inputs, _, g| {
            let [ga, gb] = product_grads(&inputs[0], &inputs[1], g)?;
            let gc = inputs[2]
                .requires_grad()
                .then(|| g.sum_to(inputs[2].shape()))
                .transpose()?;
            Ok(vec![ga, gb, gc])
        })
    }

    /// `beta·self + alpha·product` for `addmm` and `baddbmm`: `self` must broadcast to the
    /// product's shape; with `beta = 0` it is ignored (NaN and infinity in it do not reach the
    /// result, as in PyTorch, and it gets no gradient); with `beta = alpha = 1` the sum is
    /// [`Tensor::matmul_add`]'s one pass.
    #[track_caller]
    fn add_product(
        &self,
        op: &'static str,
        m1: &Self,
        m2: &Self,
        beta: E,
        alpha: E,
    ) -> Result<Self> {
        let out = Shape::matmul(m1.shape(), m2.shape())?.out;
        let fits = Shape::broadcast(op, self.shape(), &out).is_ok_and(|shape| shape == out);
        if !fits {
            return Err(Error::ShapeMismatch {
                op,
                what: "the input must broadcast to the shape of the product",
                lhs: self.shape().clone(),
                rhs: out,
            });
        }
        if beta == E::ONE && alpha == E::ONE {
            return m1.matmul_add(m2, self, op);
        }
        let product = m1.matmul(m2)?;
        let scaled = if alpha == E::ONE {
            product
        } else {
            product.mul_scalar(alpha)?
        };
        if beta == E::ZERO {
            return Ok(scaled);
        }
        let base = if beta == E::ONE {
            self.clone()
        } else {
            self.mul_scalar(beta)?
        };
        base.add(&scaled)
    }

    /// `beta·self + alpha·(mat1 @ mat2)` for matrices `mat1` `[n, m]` and `mat2` `[m, p]`
    /// (`torch.addmm(input, mat1, mat2, beta=, alpha=)`; PyTorch's defaults are `beta = 1`,
    /// `alpha = 1`), `self` broadcast to `[n, p]`. With both 1 (a `Linear` layer's
    /// `x·Wᵀ + b`) the bias is added to each block of the product as it is computed, not in a
    /// pass of its own; the result is the same bits as `matmul` then `add`.
    ///
    /// ```
    /// use nanotorch_autograd::Tensor;
    /// use nanotorch_backend_cpu::Cpu;
    /// # fn main() -> nanotorch_ndarray_core::Result<()> {
    /// let bias = Tensor::from_vec(vec![1.0f32, 2.0], [2], &Cpu)?;
    /// let x = Tensor::<f32, Cpu>::ones([3, 4], &Cpu)?;
    /// let w = Tensor::<f32, Cpu>::ones([4, 2], &Cpu)?;
    /// assert_eq!(bias.addmm(&x, &w, 1.0, 1.0)?.to_vec()?, [5.0, 6.0, 5.0, 6.0, 5.0, 6.0]);
    /// assert!(bias.addmm(&x.reshape([12])?, &w, 1.0, 1.0).is_err()); // addmm takes matrices
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn addmm(&self, mat1: &Self, mat2: &Self, beta: E, alpha: E) -> Result<Self> {
        if mat1.rank() != 2 || mat2.rank() != 2 {
            return Err(Error::ShapeMismatch {
                op: "addmm",
                what: "mat1 and mat2 must be matrices",
                lhs: mat1.shape().clone(),
                rhs: mat2.shape().clone(),
            });
        }
        self.add_product("addmm", mat1, mat2, beta, alpha)
    }
}

/// The gradients of `a·b` (`matmul`'s rules) from the product's gradient `g`: `dA = dC·Bᵀ`,
/// `dB = Aᵀ·dC`, for the inputs that want one.
fn product_grads<E: Float, B: Backend>(
    a: &Tensor<E, B>,
    b: &Tensor<E, B>,
    g: &Tensor<E, B>,
) -> Result<[Option<Tensor<E, B>>; 2]> {
    // The operands and the gradient in the promoted (matrix) shapes: the one rule of 1-D
    // promotion, shared with the forward pass.
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
    Ok([grad_a, grad_b])
}

impl<E: Float, B: Backend> Tensor<E, B> {
    /// Batched matrix product of `[…, n, m]` and `[…, m, p]` (`torch.bmm`): both operands need
    /// at least 3 axes (no 1-d promotion, unlike `matmul`), and the leading batch axes
    /// broadcast, which PyTorch's `bmm` does not do (it asks for equal `b`); any input that
    /// `torch.bmm` accepts gives its result. Gradients as `matmul`'s.
    ///
    /// ```
    /// use nanotorch_autograd::Tensor;
    /// use nanotorch_backend_cpu::Cpu;
    /// # fn main() -> nanotorch_ndarray_core::Result<()> {
    /// let q = Tensor::<f32, Cpu>::ones([8, 5, 16], &Cpu)?; // (batch·heads, seq, head_dim)
    /// let k = Tensor::<f32, Cpu>::ones([8, 16, 5], &Cpu)?;
    /// assert_eq!(q.bmm(&k)?.dims(), &[8, 5, 5]);
    /// assert!(q.bmm(&k.select(0, 0)?).is_err()); // a 2-d operand: use matmul
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn bmm(&self, rhs: &Self) -> Result<Self> {
        check_batched("bmm", self.shape(), rhs.shape())?;
        self.matmul(rhs)
    }

    /// `beta·self + alpha·(batch1 @ batch2)` (`torch.baddbmm(input, batch1, batch2, beta=,
    /// alpha=)`; PyTorch's defaults are `beta = 1`, `alpha = 1`). The product is [`Tensor::bmm`]'s
    /// (batch axes broadcast); `self` must broadcast to the product's shape, which is the
    /// result's. With `beta = 0`, `self` is ignored, so NaN or infinity in it does not reach
    /// the result, as in PyTorch (and it gets no gradient).
    ///
    /// ```
    /// use nanotorch_autograd::Tensor;
    /// use nanotorch_backend_cpu::Cpu;
    /// # fn main() -> nanotorch_ndarray_core::Result<()> {
    /// let bias = Tensor::from_vec(vec![1.0f32, 2.0], [2], &Cpu)?; // broadcast to [3, 2, 2]
    /// let a = Tensor::<f32, Cpu>::ones([3, 2, 4], &Cpu)?;
    /// let b = Tensor::<f32, Cpu>::ones([3, 4, 2], &Cpu)?;
    /// let out = bias.baddbmm(&a, &b, 0.5, 2.0)?; // 0.5·bias + 2·4
    /// assert_eq!(out.dims(), &[3, 2, 2]);
    /// assert_eq!(out.to_vec()?[..2], [8.5, 9.0]);
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn baddbmm(&self, batch1: &Self, batch2: &Self, beta: E, alpha: E) -> Result<Self> {
        check_batched("baddbmm", batch1.shape(), batch2.shape())?;
        self.add_product("baddbmm", batch1, batch2, beta, alpha)
    }
}

/// `bmm`'s shape rule, checked before `matmul` so that errors name the op the user called:
/// both operands have at least 3 axes, inner sizes agree, batch axes broadcast.
fn check_batched(op: &'static str, lhs: &Shape, rhs: &Shape) -> Result<()> {
    let mismatch = |what: &'static str| Error::ShapeMismatch {
        op,
        what,
        lhs: lhs.clone(),
        rhs: rhs.clone(),
    };
    let (l, r) = (lhs.dims(), rhs.dims());
    if l.len() < 3 || r.len() < 3 {
        return Err(mismatch(
            "both operands need at least 3 axes [batch, rows, cols]; use matmul for matrices",
        ));
    }
    if l[l.len() - 1] != r[r.len() - 2] {
        return Err(mismatch("inner dimensions differ"));
    }
    let (lb, rb) = (Shape::new(&l[..l.len() - 2]), Shape::new(&r[..r.len() - 2]));
    Shape::broadcast(op, &lb, &rb).map_err(|_| mismatch("batch axes cannot be broadcast"))?;
    Ok(())
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
