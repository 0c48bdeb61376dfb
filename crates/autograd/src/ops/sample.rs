//! Ops whose output size or positions depend on the data: `masked_select`, `topk` and
//! `multinomial`.
//!
//! Each decides *which* elements on the host (the mask, the values or the weights are copied
//! back with `to_vec`, a device sync, as PyTorch's `masked_select` and `.item()` are), then
//! does the picking on the tensor's own backend with `index_select` or `gather`. So the values
//! never leave the device for the pick, and the gradient is the adjoint of that pick: the
//! incoming gradient scattered back to the chosen positions (summed where a position was
//! chosen more than once).

use crate::generator::next_seed;
use crate::{in_op, Tensor};
use nanotorch_ndarray_core::random::uniform_at;
use nanotorch_ndarray_core::{Backend, Element, Error, Float, Generator, Result, Shape};
use std::cmp::Ordering;

impl<E: Element, B: Backend> Tensor<E, B> {
    /// The elements of `self` where `mask` is true, as a 1-d tensor in row-major order
    /// (`torch.masked_select`). `self` and `mask` broadcast together, so a `[3]` tensor with a
    /// `[2, 3]` mask picks from both copies of the row. `mask` is usually a `Tensor<Bool, B>`;
    /// any other element type counts as true where it is non-zero.
    ///
    /// The result's length depends on the mask's values, so the mask is read back to the host
    /// (a device sync, as in PyTorch); the values are picked on the device. The gradient flows
    /// back to the selected positions.
    ///
    /// ```
    /// use nanotorch_autograd::Tensor;
    /// use nanotorch_backend_cpu::Cpu;
    /// use nanotorch_ndarray_core::Bool;
    /// # fn main() -> nanotorch_ndarray_core::Result<()> {
    /// let x = Tensor::from_vec(vec![1.0f32, -2.0, 3.0, -4.0], [2, 2], &Cpu)?;
    /// let positive = x.gt(0.0)?.cast::<Bool>()?;
    /// assert_eq!(x.masked_select(&positive)?.to_vec()?, [1.0, 3.0]);
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn masked_select<M: Element>(&self, mask: &Tensor<M, B>) -> Result<Self> {
        in_op("masked_select", || {
            let shape = Shape::broadcast("masked_select", self.shape(), mask.shape())?;
            let flags = mask.array().broadcast_to(shape.clone())?.to_vec()?;
            let picked: Vec<i64> = flags
                .iter()
                .enumerate()
                .filter(|(_, &m)| m != M::ZERO)
                .map(|(i, _)| i as i64)
                .collect();
            let count = picked.len();
            let index = Tensor::from_vec(picked, [count], self.backend())?;
            self.expand(shape.clone())?
                .reshape([shape.numel()])?
                .index_select(0, &index)
        })
    }

    /// The `k` largest (or, with `largest = false`, smallest) elements along `axis`, and their
    /// indices (`torch.topk(k, dim, largest, sorted)`; PyTorch's defaults are `dim = -1`,
    /// `largest = true`, `sorted = true`). The results have `self`'s shape with `axis` of size
    /// `k`. With `sorted`, they run from the most extreme down; without, they keep the order
    /// in which they appear in `self`.
    ///
    /// NaN counts as larger than every number, as in PyTorch. Equal values are taken lower
    /// index first. PyTorch leaves that order unspecified (its CPU kernel may return tied values
    /// in another order), so on ties the values agree with PyTorch and the indices may not.
    ///
    /// The choice is made on the host (the values are read back, a device sync); the values are
    /// then gathered on the device, so the gradient flows to the selected positions.
    ///
    /// ```
    /// use nanotorch_autograd::Tensor;
    /// use nanotorch_backend_cpu::Cpu;
    /// # fn main() -> nanotorch_ndarray_core::Result<()> {
    /// let logits = Tensor::from_vec(vec![0.5f32, 2.0, -1.0, 3.0], [1, 4], &Cpu)?;
    /// let (values, indices) = logits.topk(2, -1, true, true)?;
    /// assert_eq!(values.to_vec()?, [3.0, 2.0]);
    /// assert_eq!(indices.to_vec()?, [3, 1]);
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn topk(
        &self,
        k: usize,
        axis: isize,
        largest: bool,
        sorted: bool,
    ) -> Result<(Self, Tensor<i64, B>)> {
        if self.rank() == 0 {
            // A 0-d tensor is a single candidate along axis 0 or -1, as in PyTorch.
            if axis != 0 && axis != -1 {
                return Err(Error::AxisOutOfRange {
                    op: "topk",
                    axis,
                    shape: self.shape().clone(),
                });
            }
            if k > 1 {
                return Err(Error::invalid(
                    "topk",
                    format!("k ({k}) is larger than the one element of a 0-d tensor"),
                    self.shape(),
                ));
            }
            let (values, indices) = self.reshape([1])?.topk(1, 0, largest, sorted)?;
            return Ok((values.reshape(())?, indices.reshape(())?));
        }
        let resolved = self.shape().axis("topk", axis)?;
        let n = self.dims()[resolved];
        if k > n {
            return Err(Error::invalid(
                "topk",
                format!("k ({k}) is larger than the size ({n}) of axis {axis}"),
                self.shape(),
            ));
        }
        let values = self.to_vec()?;
        let outer: usize = self.dims()[..resolved].iter().product();
        let inner: usize = self.dims()[resolved + 1..].iter().product();
        // A total order: NaN above everything, then ties broken by index, so the k chosen and
        // their order never depend on the sort algorithm.
        let rank_of = |a: usize, b: usize, line: &dyn Fn(usize) -> E| -> Ordering {
            let by_value = nan_greatest(line(a), line(b));
            let by_value = if largest {
                by_value.reverse()
            } else {
                by_value
            };
            by_value.then(a.cmp(&b))
        };
        let mut picked = vec![0i64; outer * k * inner];
        let mut candidates: Vec<usize> = Vec::with_capacity(n);
        for o in 0..outer {
            for i in 0..inner {
                let line = |j: usize| values[(o * n + j) * inner + i];
                candidates.clear();
                candidates.extend(0..n);
                if k > 0 && k < n {
                    candidates.select_nth_unstable_by(k - 1, |&a, &b| rank_of(a, b, &line));
                }
                let chosen = &mut candidates[..k];
                if sorted {
                    chosen.sort_unstable_by(|&a, &b| rank_of(a, b, &line));
                } else {
                    chosen.sort_unstable();
                }
                for (j, &c) in chosen.iter().enumerate() {
                    picked[(o * k + j) * inner + i] = c as i64;
                }
            }
        }
        let mut out_dims = self.dims().to_vec();
        out_dims[resolved] = k;
        in_op("topk", || {
            let indices = Tensor::from_vec(picked, out_dims, self.backend())?;
            Ok((self.gather(axis, &indices)?, indices))
        })
    }
}

/// `a` against `b` with NaN above every number and equal to another NaN.
fn nan_greatest<E: Element>(a: E, b: E) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

impl<E: Float, B: Backend> Tensor<E, B> {
    /// Draws `num_samples` category indices from each row of non-negative `weights` (`self`,
    /// `[categories]` or `[rows, categories]`; the weights need not sum to 1), as
    /// `torch.multinomial(input, num_samples, replacement, generator)`. The result is
    /// `Tensor<i64, B>` of shape `[num_samples]` or `[rows, num_samples]`.
    ///
    /// Without `replacement` a category is drawn at most once per row, so `num_samples` may not
    /// exceed the number of categories with a non-zero weight. With `generator: None` the
    /// draws come from the global generator (reproducible after [`crate::manual_seed`]); with
    /// `Some(g)`, from `g`, leaving the global one untouched. The numbers are this library's
    /// own (the same on every backend), not PyTorch's stream.
    ///
    /// The weights are read back to the host and the draws made there (a device sync); the
    /// result is put on `self`'s backend. Not differentiable.
    ///
    /// ```
    /// use nanotorch_autograd::{manual_seed, Tensor};
    /// use nanotorch_backend_cpu::Cpu;
    /// use nanotorch_ndarray_core::Generator;
    /// # fn main() -> nanotorch_ndarray_core::Result<()> {
    /// let probs = Tensor::from_vec(vec![0.0f32, 0.3, 0.7], [3], &Cpu)?;
    /// let draws = probs.multinomial(5, true, Some(&mut Generator::new(42)))?;
    /// assert!(draws.to_vec()?.iter().all(|&i| i == 1 || i == 2)); // weight 0: never drawn
    /// let again = probs.multinomial(5, true, Some(&mut Generator::new(42)))?;
    /// assert_eq!(draws.to_vec()?, again.to_vec()?);
    /// manual_seed(7);
    /// let order = probs.multinomial(2, false, None)?; // both non-zero categories, once each
    /// let mut seen = order.to_vec()?;
    /// seen.sort();
    /// assert_eq!(seen, [1, 2]);
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn multinomial(
        &self,
        num_samples: usize,
        replacement: bool,
        generator: Option<&mut Generator>,
    ) -> Result<Tensor<i64, B>> {
        let (rows, categories) = match *self.dims() {
            [c] => (1, c),
            [r, c] => (r, c),
            _ => {
                return Err(Error::invalid(
                    "multinomial",
                    "weights must be 1-d [categories] or 2-d [rows, categories]",
                    self.shape(),
                ))
            }
        };
        if categories == 0 {
            return Err(Error::invalid(
                "multinomial",
                "there are no categories to draw from",
                self.shape(),
            ));
        }
        if num_samples == 0 {
            return Err(Error::invalid(
                "multinomial",
                "num_samples must be at least 1",
                self.shape(),
            ));
        }
        if !replacement && num_samples > categories {
            return Err(Error::invalid(
                "multinomial",
                format!(
                    "cannot draw {num_samples} samples without replacement from {categories} categories"
                ),
                self.shape(),
            ));
        }
        let weights: Vec<f64> = self.to_vec()?.into_iter().map(E::to_f64).collect();
        if let Some(bad) = weights.iter().find(|w| !w.is_finite() || **w < 0.0) {
            return Err(Error::invalid(
                "multinomial",
                format!("weights must be finite and non-negative, found {bad}"),
                self.shape(),
            ));
        }
        let seed = match generator {
            Some(g) => g.next_seed(),
            None => next_seed(),
        };
        let mut drawn = Vec::with_capacity(rows * num_samples);
        for (row, w) in weights.chunks(categories).enumerate() {
            let positive = w.iter().filter(|&&x| x > 0.0).count();
            if positive == 0 {
                return Err(Error::invalid(
                    "multinomial",
                    format!("row {row} has no positive weight (its sum is 0)"),
                    self.shape(),
                ));
            }
            // Each row draws from its own stretch of the counter-based stream.
            let stream = (row * categories.max(num_samples)) as u64;
            if replacement {
                draw_with_replacement(w, num_samples, seed, stream, &mut drawn);
            } else if num_samples > positive {
                return Err(Error::invalid(
                    "multinomial",
                    format!(
                        "cannot draw {num_samples} samples without replacement: row {row} has {positive} non-zero weight(s)"
                    ),
                    self.shape(),
                ));
            } else {
                draw_without_replacement(w, num_samples, seed, stream, &mut drawn);
            }
        }
        let shape = if self.rank() == 1 {
            vec![num_samples]
        } else {
            vec![rows, num_samples]
        };
        Tensor::from_vec(drawn, shape, self.backend())
    }
}

/// Inverse-CDF sampling: a uniform `u` in `[0, total)` picks the first category whose
/// cumulative weight exceeds it, so a zero-weight category (no width) is never picked.
fn draw_with_replacement(w: &[f64], n: usize, seed: u64, stream: u64, out: &mut Vec<i64>) {
    let cumulative: Vec<f64> = w
        .iter()
        .scan(0.0, |acc, &x| {
            *acc += x;
            Some(*acc)
        })
        .collect();
    let total = cumulative[cumulative.len() - 1];
    // The last category with any weight: where a `u` rounded up to `total` must land.
    let last = w.iter().rposition(|&x| x > 0.0).unwrap_or(0);
    for s in 0..n {
        let u = uniform_at(seed, stream + s as u64) * total;
        let at = cumulative.partition_point(|&c| c <= u).min(last);
        out.push(at as i64);
    }
}

/// Sampling without replacement by exponential keys (Efraimidis–Spirakis): each category gets
/// the key `ln(u) / w` for a uniform `u` in `(0, 1]`, and the `n` largest keys, in decreasing
/// order, are distributed as `n` successive draws that each remove the drawn category. The
/// caller has checked that at least `n` weights are positive (zero weights get key `−∞`).
fn draw_without_replacement(w: &[f64], n: usize, seed: u64, stream: u64, out: &mut Vec<i64>) {
    let keys: Vec<f64> = w
        .iter()
        .enumerate()
        .map(|(j, &x)| {
            if x > 0.0 {
                (1.0 - uniform_at(seed, stream + j as u64)).ln() / x
            } else {
                f64::NEG_INFINITY
            }
        })
        .collect();
    let mut order: Vec<usize> = (0..w.len()).collect();
    order.sort_by(|&a, &b| keys[b].total_cmp(&keys[a]).then(a.cmp(&b)));
    out.extend(order[..n].iter().map(|&j| j as i64));
}
