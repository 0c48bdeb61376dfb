//! `cumsum`: running sums along an axis, for every element type but `Bool`.
//!
//! The scan is composed from backend primitives that every device has, in the Hillis–Steele
//! form: after step `s` (shift `2^s`), element `i` holds the sum of the `2^(s+1)` elements
//! ending at `i`. That is `⌈log₂ n⌉` steps, each a copy and one in-place add of a shifted
//! view, instead of `n` dependent steps. Float results can differ from a left-to-right sum in
//! the last bits (the additions are grouped differently); integer results are exact.
//!
//! The gradient of a running sum is the reverse running sum (`out[i]` depends on `x[j]` for
//! every `j ≤ i`), and the reverse scan's gradient is the forward one, so both are one op.

use crate::Tensor;
use nanotorch_ndarray_core::{Backend, BinaryOp, DType, Element, Error, NDArray, Result};

impl<E: Element, B: Backend> Tensor<E, B> {
    /// Running sums along `axis` (`torch.cumsum`): `out[i] = x[0] + … + x[i]`. A 0-d tensor is
    /// returned as it is (axis `0` or `-1`, as PyTorch allows). The gradient is the reverse
    /// running sum of the incoming one. Booleans are refused (PyTorch counts them into `int64`:
    /// cast to `i64` first); `u8` sums wrap.
    ///
    /// ```
    /// use nanotorch_autograd::Tensor;
    /// use nanotorch_backend_cpu::Cpu;
    /// # fn main() -> nanotorch_ndarray_core::Result<()> {
    /// let x = Tensor::from_vec(vec![1i64, 2, 3, 4, 5, 6], [2, 3], &Cpu)?;
    /// assert_eq!(x.cumsum(1)?.to_vec()?, [1, 3, 6, 4, 9, 15]);
    /// assert_eq!(x.cumsum(0)?.to_vec()?, [1, 2, 3, 5, 7, 9]);
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn cumsum(&self, axis: isize) -> Result<Self> {
        if E::DTYPE == DType::Bool {
            return Err(Error::invalid(
                "cumsum",
                "cannot sum booleans into a boolean: cast to i64 first (`x.cast::<i64>()`)",
                self.shape(),
            ));
        }
        if self.rank() == 0 {
            // A 0-d tensor has one "axis" of length 1 for cumsum's purposes, as in PyTorch.
            if axis != 0 && axis != -1 {
                return Err(Error::AxisOutOfRange {
                    op: "cumsum",
                    axis,
                    shape: self.shape().clone(),
                });
            }
            return self.reshape([1])?.scan(0, false)?.reshape(());
        }
        let axis = self.shape().axis("cumsum", axis)?;
        self.scan(axis, false)
    }

    /// The running sum along `axis` from the front (`reverse = false`) or from the back.
    #[track_caller]
    fn scan(&self, axis: usize, reverse: bool) -> Result<Self> {
        let out = scan_array(self.array(), axis, reverse)?;
        let name = if reverse { "cumsum_reverse" } else { "cumsum" };
        Tensor::try_from_op(out, name, &[self], move |_, _, g| {
            Ok(vec![Some(g.scan(axis, !reverse)?)])
        })
    }
}

/// Hillis–Steele inclusive scan of `x` along `axis`: `log₂ n` rounds of `acc[i] += acc[i − s]`
/// (or `acc[i] += acc[i + s]` in reverse), each reading the previous round's values.
fn scan_array<E: Element, B: Backend>(
    x: &NDArray<E, B>,
    axis: usize,
    reverse: bool,
) -> Result<NDArray<E, B>> {
    let n = x.dims()[axis];
    let axis = axis as isize;
    let mut acc = x.copy()?;
    let mut shift = 1;
    while shift < n {
        let next = acc.copy()?;
        let len = n - shift;
        let (dst, src) = if reverse { (0, shift) } else { (shift, 0) };
        next.narrow(axis, dst, len)?
            .binary_assign(BinaryOp::Add, &acc.narrow(axis, src, len)?)?;
        acc = next;
        shift *= 2;
    }
    Ok(acc)
}
