//! softmax and log_softmax along one axis, stable (the maximum is subtracted first), and the
//! causal softmax of attention with its scale and mask inside the op: each one node whose
//! forward and backward are the backend's fused row kernels (`NDArray::softmax_last`), not the
//! chain of max/exp/sum/div it is made of. Under `create_graph` the backward is written with
//! recorded ops, so it is differentiable in turn. Cross-entropy against class indices, which is
//! log_softmax and a pick, is one node here too (`cross_entropy_rows`).

use crate::{in_op, is_grad_enabled, Tensor};
use nanotorch_ndarray_core::op::Softmax;
use nanotorch_ndarray_core::{Backend, Float, NDArray, Result};

impl<E: Float, B: Backend> Tensor<E, B> {
    /// `e^x / Σ e^x` along `axis`.
    #[track_caller]
    pub fn softmax(&self, axis: isize) -> Result<Self> {
        in_op("softmax", || {
            self.softmax_family("softmax", axis, Softmax::PLAIN)
        })
    }

    /// `x − ln Σ e^x` along `axis`.
    #[track_caller]
    pub fn log_softmax(&self, axis: isize) -> Result<Self> {
        in_op("log_softmax", || {
            self.softmax_family("log_softmax", axis, Softmax::LOG)
        })
    }

    /// `softmax(self·scale)` over the last axis with the causal mask of attention: in the
    /// last two axes `[L, S]`, query `i` sees keys `j ≤ i` only (the top-left lower triangle,
    /// as `scaled_dot_product_attention(is_causal=True)`); the other scores become `−∞`, so
    /// their weights are 0. Every row keeps key 0, so no row is empty.
    ///
    /// It gives the values of `where(allowed, self·scale, −∞).softmax(-1)` as one node: the
    /// mask and the scale cost no tensors of their own in the graph, and the backward pass is
    /// `dx = scale · y ⊙ (g − Σ g⊙y)` (0 where masked, as `y` is). Needs at least 2 axes.
    #[track_caller]
    pub fn causal_softmax(&self, scale: E) -> Result<Self> {
        let op = Softmax {
            log: false,
            scale: scale.to_f64(),
            causal: true,
        };
        in_op("causal_softmax", || {
            self.softmax_family("causal_softmax", -1, op)
        })
    }

    /// `op` along `axis`: along the last axis directly, along another one through a transposed
    /// view (the backend's fused kernel then falls back to the composed form).
    #[track_caller]
    fn softmax_family(&self, name: &'static str, axis: isize, op: Softmax) -> Result<Self> {
        if self.rank() == 0 {
            // PyTorch treats a 0-d tensor as one element along dim 0 (or -1).
            let flat = self.reshape([1])?;
            flat.shape().axis(name, axis)?;
            return flat
                .softmax_family(name, 0, op)?
                .reshape(Vec::<usize>::new());
        }
        let axis = self.shape().axis(name, axis)?;
        let last = self.rank() - 1;
        if axis != last {
            let (a, l) = (axis as isize, last as isize);
            return self
                .transpose(a, l)?
                .softmax_family(name, l, op)?
                .transpose(a, l);
        }
        let out = self.array().softmax_last(op)?;
        Tensor::try_from_op(out, name, &[self], move |_, y, g| {
            if !is_grad_enabled() {
                let dx = NDArray::softmax_last_backward(y.array(), g.array(), op)?;
                return Ok(vec![Some(Tensor::from_ndarray(dx))]);
            }
            // The same rules with recorded ops (create_graph). A causal softmax's `y` is 0
            // where masked, so the plain rule gives 0 there too.
            let scale = E::from_f64(op.scale);
            let dx = if op.log {
                g.sub(&y.exp()?.mul(&g.sum_dims(&[-1], true)?)?)?
            } else {
                y.mul(&g.sub(&g.mul(y)?.sum_dims(&[-1], true)?)?)?
            };
            Ok(vec![Some(dx.mul_scalar(scale)?)])
        })
    }
}

impl<E: Float, B: Backend> Tensor<E, B> {
    /// Cross-entropy of each row of these `[rows, classes]` logits against the class indices
    /// `target` (`[rows]`) as one node: `lse(x[r]) − x[r, target[r]]` per row (0 where the
    /// target is `ignore_index`), whose forward and backward are the backend's fused row kernels
    /// (one pass over the logits each way; `NDArray::cross_entropy_rows`). The backward pass is
    /// `g[r]·(softmax(x[r]) − one_hot(target[r]))`.
    ///
    /// `Ok(None)` when the backend has no fused kernel for these arrays: the caller composes the
    /// loss from `log_softmax` and `gather` (as `nanotorch_nn::functional::cross_entropy`
    /// does). A target outside `0..classes` that is not `ignore_index` is an error.
    #[track_caller]
    pub fn cross_entropy_rows(
        &self,
        target: &Tensor<i64, B>,
        ignore_index: i64,
    ) -> Result<Option<Self>> {
        let Some((loss, lse)) = self
            .array()
            .cross_entropy_rows(target.array(), ignore_index)?
        else {
            return Ok(None);
        };
        let target = target.array().clone();
        Tensor::try_from_op(loss, "cross_entropy", &[self], move |inputs, _, g| {
            let x = &inputs[0];
            if !is_grad_enabled() {
                let fused = x.array().cross_entropy_rows_backward(
                    &lse,
                    &target,
                    g.array(),
                    ignore_index,
                )?;
                if let Some(dx) = fused {
                    return Ok(vec![Some(Tensor::from_ndarray(dx))]);
                }
            }
            // With recorded ops (create_graph): (softmax(x) − one_hot) · g, rows of ignored
            // targets scaled by 0.
            let ignored = target.eq_scalar(ignore_index)?;
            let index =
                NDArray::where_cond(&ignored, &NDArray::zeros([1], target.backend())?, &target)?
                    .reshape([target.numel(), 1])?;
            let rows = [target.numel(), x.dims()[1]];
            let one_hot = NDArray::<E, B>::zeros(rows, x.array().backend())?.scatter_add(
                1,
                &index,
                &NDArray::ones([target.numel(), 1], x.array().backend())?,
            )?;
            let keep = Tensor::from_ndarray(
                target
                    .ne_scalar(ignore_index)?
                    .cast::<E>()?
                    .reshape([target.numel(), 1])?,
            );
            let dx = x
                .softmax(-1)?
                .sub(&Tensor::from_ndarray(one_hot))?
                .mul(&g.unsqueeze(1)?.mul(&keep)?)?;
            Ok(vec![Some(dx)])
        })
        .map(Some)
    }
}
