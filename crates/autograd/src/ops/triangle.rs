//! `tril` and `triu`: the lower or upper triangle of the last two axes, the rest set to zero,
//! for every element type (a boolean causal mask is `ones([t, t]).tril(0)`).
//!
//! Element `(i, j)` of each matrix is kept when `j − i ≤ diagonal` (tril) or `j − i ≥ diagonal`
//! (triu), as in PyTorch. The keep-mask is built on the device from two `arange`s, so no
//! matrix crosses from the host, and the result is a `where` against zero (a NaN outside the
//! triangle becomes 0, as in PyTorch). The gradient is the same triangle of the incoming one.

use crate::Tensor;
use nanotorch_ndarray_core::{Backend, BinaryOp, Element, Error, NDArray, Result, ScalarSide};

impl<E: Element, B: Backend> Tensor<E, B> {
    /// The lower triangle of the last two axes (`torch.tril`), leading axes a batch: elements
    /// with `col − row ≤ diagonal` are kept, the others set to zero. `diagonal = 0` keeps the
    /// main diagonal, `-1` drops it, `1` keeps one more above it.
    ///
    /// ```
    /// use nanotorch_autograd::Tensor;
    /// use nanotorch_backend_cpu::Cpu;
    /// # fn main() -> nanotorch_ndarray_core::Result<()> {
    /// let x = Tensor::<f32, Cpu>::ones([2, 3], &Cpu)?;
    /// assert_eq!(x.tril(0)?.to_vec()?, [1.0, 0.0, 0.0, 1.0, 1.0, 0.0]);
    /// assert_eq!(x.tril(-1)?.to_vec()?, [0.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn tril(&self, diagonal: isize) -> Result<Self> {
        self.triangle("tril", diagonal)
    }

    /// The upper triangle of the last two axes (`torch.triu`), leading axes a batch: elements
    /// with `col − row ≥ diagonal` are kept, the others set to zero.
    #[track_caller]
    pub fn triu(&self, diagonal: isize) -> Result<Self> {
        self.triangle("triu", diagonal)
    }

    #[track_caller]
    fn triangle(&self, op: &'static str, diagonal: isize) -> Result<Self> {
        let rank = self.rank();
        if rank < 2 {
            return Err(Error::invalid(
                op,
                "the input must have at least 2 axes (…, rows, cols)",
                self.shape(),
            ));
        }
        let (rows, cols) = (self.dims()[rank - 2], self.dims()[rank - 1]);
        let backend = self.backend();
        // offset[i][j] = j − i, then compared with the diagonal: a 0/1 mask of shape [rows, cols]
        // that broadcasts over the leading axes.
        let row = NDArray::<i64, B>::arange(0.0, rows as f64, 1.0, backend)?.reshape([rows, 1])?;
        let col = NDArray::<i64, B>::arange(0.0, cols as f64, 1.0, backend)?.reshape([1, cols])?;
        let compare = if op == "tril" {
            BinaryOp::Le
        } else {
            BinaryOp::Ge
        };
        let keep = col
            .binary(BinaryOp::Sub, &row)?
            .binary_scalar(compare, diagonal as i64, ScalarSide::Right)?
            .cast::<E>()?;
        let zero = NDArray::scalar(E::ZERO, backend)?;
        let out = NDArray::where_cond(&keep, self.array(), &zero)?;
        Tensor::try_from_op(out, op, &[self], move |_, _, g| {
            Ok(vec![Some(g.triangle(op, diagonal)?)])
        })
    }
}
