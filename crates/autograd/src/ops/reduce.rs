//! Reductions over any set of axes (`&[]` means all), with `keepdim` as in PyTorch.
//!
//! The backward of a reduction broadcasts the incoming gradient back over the reduced axes; to do
//! that, the gradient is first reshaped to the keepdim shape.

use crate::{in_op, Tensor};
use nanotorch_ndarray_core::{
    ArgReduceOp, Backend, BinaryOp, Element, Error, Float, ReduceOp, Result, Shape,
};

mod indexed;

/// The shape of `input` with `axes` (empty = all) kept as size 1.
fn keepdim_shape(input: &Shape, axes: &[isize]) -> Result<Shape> {
    let axes = input.axes("reduce", axes)?;
    Ok(input
        .dims()
        .iter()
        .enumerate()
        .map(|(i, &d)| if axes.contains(&i) { 1 } else { d })
        .collect::<Vec<_>>()
        .into())
}

/// Refuses a max/min/argmax/argmin over nothing, as PyTorch does: such a reduction has no
/// identity, so a result (`-inf` for a max) would be invented, not computed. Reducing a tensor
/// with no elements is fine when each reduced axis has elements (a `[3, 0]` tensor's max over
/// axis 0 is an empty `[0]`); `axes` empty means every axis.
fn check_not_empty(op: &'static str, input: &Shape, axes: &[isize]) -> Result<()> {
    if input.rank() == 0 {
        // One element; which axes a 0-d tensor accepts is the op's own rule.
        return Ok(());
    }
    if axes.is_empty() {
        if input.numel() == 0 {
            return Err(Error::invalid(
                op,
                "the tensor has no elements, so it has no maximum or minimum; reduce over an \
                 axis of non-zero size instead",
                input,
            ));
        }
        return Ok(());
    }
    input.axes(op, axes)?; // out of range or repeated: that error first
    for &given in axes {
        if input.dims()[input.axis(op, given)?] == 0 {
            return Err(Error::invalid(
                op,
                format!("reduction axis {given} has size 0, so it has no maximum or minimum"),
                input,
            ));
        }
    }
    Ok(())
}

impl<E: Element, B: Backend> Tensor<E, B> {
    /// Sum over `axes` (empty = all), in the input's element type (an `i64` sum stays `i64`, as
    /// PyTorch's does for integer tensors).
    #[track_caller]
    pub fn sum_dims(&self, axes: &[isize], keepdim: bool) -> Result<Self> {
        let out = self.array().sum(axes, keepdim)?;
        let kept = keepdim_shape(self.shape(), axes)?;
        Tensor::try_from_op(out, "sum", &[self], move |inputs, _, g| {
            Ok(vec![Some(
                g.reshape(kept.clone())?.expand(inputs[0].shape().clone())?,
            )])
        })
    }

    /// Sum of all elements, as a 0-d tensor (PyTorch's `sum()`).
    ///
    /// ```
    /// use nanotorch_autograd::Tensor;
    /// use nanotorch_backend_cpu::Cpu;
    /// # fn main() -> nanotorch_ndarray_core::Result<()> {
    /// let counts = Tensor::from_vec(vec![3i64, 4, 5], [3], &Cpu)?;
    /// assert_eq!(counts.sum()?.item()?, 12i64); // integer in, integer out
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn sum(&self) -> Result<Self> {
        self.sum_dims(&[], false)
    }

    /// Sum of all elements, as a 0-d tensor (the same as [`Tensor::sum`]).
    #[track_caller]
    pub fn sum_all(&self) -> Result<Self> {
        self.sum()
    }
}

impl<E: Float, B: Backend> Tensor<E, B> {
    /// Mean over `axes` (empty = all).
    #[track_caller]
    pub fn mean_dims(&self, axes: &[isize], keepdim: bool) -> Result<Self> {
        let count: usize = self
            .shape()
            .axes("mean", axes)?
            .iter()
            .map(|&a| self.dims()[a])
            .product();
        self.sum_dims(axes, keepdim)?
            .div_scalar(E::from_f64(count as f64))
    }

    /// Mean of all elements, as a 0-d tensor (PyTorch's `mean()`). Defined for float tensors
    /// only, as in PyTorch: cast an integer or mask tensor first. Accuracy, on `i64` labels:
    ///
    /// ```
    /// use nanotorch_autograd::Tensor;
    /// use nanotorch_backend_cpu::Cpu;
    /// # fn main() -> nanotorch_ndarray_core::Result<()> {
    /// let logits = Tensor::from_vec(vec![2.0f32, 1.0, 0.1, 0.3, 0.2, 3.0, 1.0, 5.0], [4, 2], &Cpu)?;
    /// let labels = Tensor::from_vec(vec![0i64, 1, 1, 0], [4], &Cpu)?;
    /// let pred = logits.argmax(Some(1), false)?; // [0, 1, 1, 1]
    /// let accuracy = pred.eq(&labels)?.cast::<f32>()?.mean()?;
    /// assert_eq!(accuracy.item()?, 0.75); // 3 of 4 right
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn mean(&self) -> Result<Self> {
        self.mean_dims(&[], false)
    }

    /// Mean of all elements, as a 0-d tensor (the same as [`Tensor::mean`]).
    #[track_caller]
    pub fn mean_all(&self) -> Result<Self> {
        self.mean()
    }

    /// Product over `axes`. The gradient is `out / x`, so inputs must be non-zero where a
    /// gradient is wanted (PyTorch special-cases zeros; we leave that out).
    #[track_caller]
    pub fn prod_dims(&self, axes: &[isize], keepdim: bool) -> Result<Self> {
        let out = self.array().prod(axes, keepdim)?;
        let kept = keepdim_shape(self.shape(), axes)?;
        Tensor::try_from_op(out, "prod", &[self], move |inputs, out, g| {
            let x = &inputs[0];
            let g = g.reshape(kept.clone())?;
            let out = out.reshape(kept.clone())?;
            Ok(vec![Some(g.mul(&out)?.div(x)?)])
        })
    }

    /// Maximum over `axes`, PyTorch's `amax`: the gradient is shared evenly among tied maxima,
    /// and a slice whose maximum is NaN gets NaN gradients (as `amax`'s). For the maximum along
    /// one axis with its index, and the whole gradient at that index, use [`Tensor::max_dim`]
    /// (`torch.max(x, dim)`). A reduced axis of size 0 (or, with `axes` empty, a tensor with no
    /// elements) is an error, as in PyTorch: a maximum of nothing does not exist, and `-inf`
    /// would pass for one.
    #[track_caller]
    pub fn max_dims(&self, axes: &[isize], keepdim: bool) -> Result<Self> {
        self.extreme(ReduceOp::Max, axes, keepdim)
    }

    /// Minimum over `axes`, PyTorch's `amin`: the gradient is shared evenly among tied minima
    /// (see [`Tensor::max_dims`]; [`Tensor::min_dim`] is `torch.min(x, dim)`). Over nothing, an
    /// error.
    #[track_caller]
    pub fn min_dims(&self, axes: &[isize], keepdim: bool) -> Result<Self> {
        self.extreme(ReduceOp::Min, axes, keepdim)
    }

    /// Maximum of all elements, as a 0-d tensor (PyTorch's `max()`); an error for a tensor with
    /// no elements. The gradient is shared evenly among tied maxima; if the maximum is NaN, it
    /// is shared among the NaNs, as PyTorch's `max()` does (unlike `amax`, which gives NaN).
    ///
    /// ```
    /// use nanotorch_autograd::Tensor;
    /// use nanotorch_backend_cpu::Cpu;
    /// # fn main() -> nanotorch_ndarray_core::Result<()> {
    /// let x = Tensor::from_vec(vec![1.0f64, 4.0, 4.0], [3], &Cpu)?.requires_grad_(true);
    /// x.max_all()?.backward()?;
    /// assert_eq!(x.grad().unwrap().to_vec()?, [0.0, 0.5, 0.5]);
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn max_all(&self) -> Result<Self> {
        self.extreme_all(ReduceOp::Max)
    }

    /// Minimum of all elements, as a 0-d tensor (PyTorch's `min()`); an error for a tensor with
    /// no elements. Ties and NaN as [`Tensor::max_all`].
    #[track_caller]
    pub fn min_all(&self) -> Result<Self> {
        self.extreme_all(ReduceOp::Min)
    }

    /// PyTorch's `evenly_distribute_backward`: the gradient split among the elements equal to
    /// the result, or among the NaNs when the result is NaN (NaN equals nothing, not even the
    /// NaN it came from, so `amax`'s rule would give every element NaN).
    #[track_caller]
    fn extreme_all(&self, op: ReduceOp) -> Result<Self> {
        check_not_empty(op.name(), self.shape(), &[])?;
        let out = self.array().reduce(op, &[], false)?;
        Tensor::try_from_op(out, op.name(), &[self], move |inputs, out, g| {
            let x = inputs[0].detach();
            let out = out.detach();
            let is_nan = |t: &Self| t.compare(BinaryOp::Ne, t);
            let hits = x
                .compare(BinaryOp::Eq, &out)?
                .add(&is_nan(&x)?.mul(&is_nan(&out)?)?)?;
            let share = hits.div(&hits.sum()?)?;
            Ok(vec![Some(g.mul(&share)?)])
        })
    }

    #[track_caller]
    fn extreme(&self, op: ReduceOp, axes: &[isize], keepdim: bool) -> Result<Self> {
        check_not_empty(op.name(), self.shape(), axes)?;
        let out = self.array().reduce(op, axes, keepdim)?;
        let kept = keepdim_shape(self.shape(), axes)?;
        let axes = axes.to_vec();
        Tensor::try_from_op(out, op.name(), &[self], move |inputs, out, g| {
            let x = inputs[0].detach();
            let hits = x.eq(&out.detach().reshape(kept.clone())?)?;
            let share = hits.div(&hits.sum_dims(&axes, true)?)?;
            Ok(vec![Some(g.reshape(kept.clone())?.mul(&share)?)])
        })
    }

    /// Variance over `axes` with Bessel's `correction` (1 = unbiased, PyTorch's default).
    #[track_caller]
    pub fn var_dims(&self, axes: &[isize], correction: usize, keepdim: bool) -> Result<Self> {
        let count: usize = self
            .shape()
            .axes("var", axes)?
            .iter()
            .map(|&a| self.dims()[a])
            .product();
        let centered = self.sub(&self.mean_dims(axes, true)?)?;
        let divisor = count.saturating_sub(correction) as f64;
        centered
            .square()?
            .sum_dims(axes, keepdim)?
            .div_scalar(E::from_f64(divisor))
    }

    /// Standard deviation over `axes` with Bessel's `correction`.
    #[track_caller]
    pub fn std_dims(&self, axes: &[isize], correction: usize, keepdim: bool) -> Result<Self> {
        in_op("std", || self.var_dims(axes, correction, keepdim)?.sqrt())
    }

    /// `ln Σ e^x` over `axes`, computed stably by subtracting the maximum first. Over nothing
    /// (an axis of size 0) it is `ln 0 = −∞`, as in PyTorch.
    #[track_caller]
    pub fn logsumexp(&self, axes: &[isize], keepdim: bool) -> Result<Self> {
        in_op("logsumexp", || {
            let resolved = self.shape().axes("logsumexp", axes)?;
            let kept = keepdim_shape(self.shape(), axes)?;
            let empty = resolved.iter().any(|&a| self.dims()[a] == 0);
            // An empty reduction has no maximum to subtract; any finite shift gives ln 0 = −∞.
            let shift = if empty {
                Tensor::zeros(kept, self.backend())?
            } else {
                self.max_dims(axes, true)?.detach()
            };
            let summed = self
                .sub(&shift)?
                .exp()?
                .sum_dims(axes, true)?
                .log()?
                .add(&shift)?;
            if keepdim {
                Ok(summed)
            } else {
                let kept_out: Vec<usize> = (0..self.rank())
                    .filter(|i| !resolved.contains(i))
                    .map(|i| self.dims()[i])
                    .collect();
                summed.reshape(kept_out)
            }
        })
    }
}

impl<E: Element, B: Backend> Tensor<E, B> {
    /// Index of the maximum along `axis` (`None`: of the flattened tensor). Not differentiable.
    /// On ties, the first index; a NaN counts as the maximum (the first NaN wins), as in
    /// PyTorch. An axis of size 0 (or, with `None`, a tensor with no elements) is an error, as in
    /// PyTorch: there is no maximum to point at.
    #[track_caller]
    pub fn argmax(&self, axis: Option<isize>, keepdim: bool) -> Result<Tensor<i64, B>> {
        check_not_empty("argmax", self.shape(), axis.as_slice())?;
        Ok(Tensor::from_ndarray(self.array().arg_reduce(
            ArgReduceOp::ArgMax,
            axis,
            keepdim,
        )?))
    }

    /// Index of the minimum along `axis` (`None`: of the flattened tensor). Not differentiable.
    /// On ties, the first index; a NaN counts as the minimum, as in PyTorch. An axis of size 0
    /// (or, with `None`, a tensor with no elements) is an error, as in PyTorch.
    #[track_caller]
    pub fn argmin(&self, axis: Option<isize>, keepdim: bool) -> Result<Tensor<i64, B>> {
        check_not_empty("argmin", self.shape(), axis.as_slice())?;
        Ok(Tensor::from_ndarray(self.array().arg_reduce(
            ArgReduceOp::ArgMin,
            axis,
            keepdim,
        )?))
    }
}
