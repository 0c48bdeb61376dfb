//! The `Backend` trait: a device, its storage, and the small closed set of primitive kernels that
//! everything above is composed from.
//!
//! Rules every implementation follows:
//! - Storage is opaque. The host sees elements only through [`Backend::from_slice`] and
//!   [`Backend::to_vec`], so a device whose memory the host cannot touch fits the trait.
//! - Inputs are read through a [`Layout`] of any strides (transposed, sliced and broadcast views
//!   need no copy); outputs are fresh, contiguous and row-major, unless the method says "in place".
//! - Shapes have been checked by the caller ([`crate::NDArray`]); a backend checks only what it
//!   alone can see (index values, device errors) and reports it as an [`Error`](crate::Error).

use crate::op::{FusedStep, Softmax};
use crate::{
    ArgReduceOp, BinaryOp, Element, Float, Layout, RandomDist, ReduceOp, Result, ScalarSide,
    UnaryOp, Window2d,
};

/// Shorthand for a backend's storage of element type `E`.
pub type StorageOf<B, E> = <B as Backend>::Storage<E>;

/// A compute device. Cheap to clone (a handle); `Cpu` is a unit struct.
pub trait Backend: Clone + Send + Sync + std::fmt::Debug + 'static {
    /// A buffer of `E` on this device.
    type Storage<E: Element>: Send + Sync + std::fmt::Debug;

    /// A short name for messages (`"cpu"`, `"cuda:0"`).
    fn name(&self) -> String;

    /// Whether two handles refer to the same device (operands must live on one device).
    fn same_device(&self, other: &Self) -> bool;

    /// Number of elements a storage holds.
    fn storage_len<E: Element>(&self, storage: &Self::Storage<E>) -> usize;

    /// Copies host data into new storage.
    // The host-transfer pair is named `from_*`/`to_vec` on purpose: they mirror NDArray's
    // constructors, and the device handle (`&self`) says where the storage goes.
    #[allow(clippy::wrong_self_convention)]
    fn from_slice<E: Element>(&self, data: &[E]) -> Result<Self::Storage<E>>;

    /// Moves host data into new storage (the CPU backend takes the `Vec` without copying).
    #[allow(clippy::wrong_self_convention)]
    fn from_vec<E: Element>(&self, data: Vec<E>) -> Result<Self::Storage<E>> {
        self.from_slice(&data)
    }

    /// Reads the elements of `layout` back to the host, in row-major logical order.
    fn to_vec<E: Element>(&self, storage: &Self::Storage<E>, layout: &Layout) -> Result<Vec<E>>;

    /// `len` copies of `value`.
    fn full<E: Element>(&self, len: usize, value: E) -> Result<Self::Storage<E>>;

    /// `start, start + step, …` (`len` values), computed in f64 then converted.
    fn arange<E: Element>(&self, start: f64, step: f64, len: usize) -> Result<Self::Storage<E>>;

    /// `len` draws from `dist`, element `i` equal to [`crate::random::sample_at`]`(dist, seed, i)`
    /// rounded to `E`.
    fn random<E: Float>(&self, len: usize, dist: RandomDist, seed: u64)
        -> Result<Self::Storage<E>>;

    /// A contiguous copy of the elements of `layout`.
    fn copy_strided<E: Element>(
        &self,
        src: &Self::Storage<E>,
        layout: &Layout,
    ) -> Result<Self::Storage<E>>;

    /// In place: writes the elements of `src` (read through `src_layout`) into the positions of
    /// `dst_layout`. Both layouts have the same shape; `dst_layout` has no stride-0 axes.
    fn assign<E: Element>(
        &self,
        dst: &mut Self::Storage<E>,
        dst_layout: &Layout,
        src: &Self::Storage<E>,
        src_layout: &Layout,
    ) -> Result<()>;

    /// Converts each element to `T` (floats to integers truncate toward zero, as `as` does).
    fn cast<E: Element, T: Element>(
        &self,
        src: &Self::Storage<E>,
        layout: &Layout,
    ) -> Result<Self::Storage<T>>;

    /// `op(x)` for each element.
    fn unary<E: Float>(
        &self,
        op: UnaryOp,
        x: &Self::Storage<E>,
        layout: &Layout,
    ) -> Result<Self::Storage<E>>;

    /// `op(lhs, rhs)` for each element; both layouts have the same shape (broadcast already).
    fn binary<E: Element>(
        &self,
        op: BinaryOp,
        lhs: &Self::Storage<E>,
        lhs_layout: &Layout,
        rhs: &Self::Storage<E>,
        rhs_layout: &Layout,
    ) -> Result<Self::Storage<E>>;

    /// `op(x, scalar)` (or `op(scalar, x)` when `side` is [`ScalarSide::Left`]) for each element.
    fn binary_scalar<E: Element>(
        &self,
        op: BinaryOp,
        x: &Self::Storage<E>,
        layout: &Layout,
        scalar: E,
        side: ScalarSide,
    ) -> Result<Self::Storage<E>>;

    /// In place: `dst = op(dst, rhs)` at the positions of `dst_layout` (no stride-0 axes);
    /// `rhs_layout` has the same shape.
    fn binary_inplace<E: Element>(
        &self,
        op: BinaryOp,
        dst: &mut Self::Storage<E>,
        dst_layout: &Layout,
        rhs: &Self::Storage<E>,
        rhs_layout: &Layout,
    ) -> Result<()>;

    /// In place: `dst = op(dst, scalar)` at the positions of `dst_layout` (no stride-0 axes).
    fn scalar_inplace<E: Element>(
        &self,
        op: BinaryOp,
        dst: &mut Self::Storage<E>,
        dst_layout: &Layout,
        scalar: E,
    ) -> Result<()>;

    /// In place and fused: `dst = alpha·dst + beta·x` at the positions of `dst_layout` (no
    /// stride-0 axes); `x_layout` has the same shape. The one fused kernel in the trait, because
    /// the optimizer benchmark showed its passes mattered (momentum, moving averages and the
    /// parameter update are each one call). The default is the composed reference:
    /// `dst *= alpha; dst += beta·x`, with the same rounding as the fused form.
    #[allow(clippy::too_many_arguments)]
    fn axpby_inplace<E: Float>(
        &self,
        dst: &mut Self::Storage<E>,
        dst_layout: &Layout,
        alpha: E,
        x: &Self::Storage<E>,
        x_layout: &Layout,
        beta: E,
    ) -> Result<()> {
        if alpha != E::ONE {
            self.scalar_inplace(BinaryOp::Mul, dst, dst_layout, alpha)?;
        }
        let scaled = self.binary_scalar(BinaryOp::Mul, x, x_layout, beta, ScalarSide::Right)?;
        let contiguous = Layout::contiguous(x_layout.shape().clone());
        self.binary_inplace(BinaryOp::Add, dst, dst_layout, &scaled, &contiguous)
    }

    /// `cond != 0 ? on_true : on_false` for each element; all three layouts have one shape.
    fn where_cond<E: Element>(
        &self,
        cond: &Self::Storage<E>,
        cond_layout: &Layout,
        on_true: &Self::Storage<E>,
        true_layout: &Layout,
        on_false: &Self::Storage<E>,
        false_layout: &Layout,
    ) -> Result<Self::Storage<E>>;

    /// Reduces over `axes` (sorted, distinct, possibly empty = nothing reduced). The result has the
    /// input's shape with each reduced axis set to 1 (keepdim), contiguous.
    fn reduce<E: Element>(
        &self,
        op: ReduceOp,
        x: &Self::Storage<E>,
        layout: &Layout,
        axes: &[usize],
    ) -> Result<Self::Storage<E>>;

    /// The softmax `op` along the last axis of `x` (at least one axis, the last non-empty), as
    /// a fused kernel; `None`, the default, when the backend has none for this layout, and
    /// [`NDArray::softmax_last`](crate::NDArray::softmax_last) then composes it from
    /// reductions and maps.
    fn softmax_last<E: Float>(
        &self,
        _x: &Self::Storage<E>,
        _layout: &Layout,
        _op: Softmax,
    ) -> Option<Result<Self::Storage<E>>> {
        None
    }

    /// The backward pass of [`Backend::softmax_last`] from its output `y` and the gradient `g`
    /// of `y` (same shape): `scale·y⊙(g − Σ g⊙y)`, or `scale·(g − e^y·Σ g)` for log (0 where the
    /// causal mask hides a key); `None` when the backend has no fused kernel.
    fn softmax_last_backward<E: Float>(
        &self,
        _y: &Self::Storage<E>,
        _y_layout: &Layout,
        _g: &Self::Storage<E>,
        _g_layout: &Layout,
        _op: Softmax,
    ) -> Option<Result<Self::Storage<E>>> {
        None
    }

    /// Index of the extreme value along `axis` (non-empty); result shaped like the input with
    /// `axis` set to 1.
    fn arg_reduce<E: Element>(
        &self,
        op: ArgReduceOp,
        x: &Self::Storage<E>,
        layout: &Layout,
        axis: usize,
    ) -> Result<Self::Storage<i64>>;

    /// Batched matrix product: `lhs` is `[b, m, k]`, `rhs` is `[b, k, n]` (any strides, batch
    /// stride 0 for a broadcast operand); the result is a contiguous `[b, m, n]`. Batch axes
    /// that do not merge into one stride come as they are: `[b₁, …, bᵣ, m, k]` and
    /// `[b₁, …, bᵣ, k, n]` (the same batch sizes on both), the result then being `[b₁·…·bᵣ, m,
    /// n]` in row-major batch order ([`crate::checks::matmul`] checks either form).
    fn matmul<E: Float>(
        &self,
        lhs: &Self::Storage<E>,
        lhs_layout: &Layout,
        rhs: &Self::Storage<E>,
        rhs_layout: &Layout,
    ) -> Result<Self::Storage<E>>;

    /// `lhs·rhs + addend` ([`Backend::matmul`] then an add, as PyTorch's `addmm` runs a
    /// `Linear`): `addend` has the product's shape in the operands' form (`[b, m, n]`, or the
    /// same batch axes as they), any strides (a broadcast bias row: `[0, 0, 1]`), and is added
    /// to each output element after its product, so the bits are those of the two ops. `None`,
    /// the default, where the backend has no such kernel (the caller adds after the product).
    fn matmul_add<E: Float>(
        &self,
        _lhs: (&Self::Storage<E>, &Layout),
        _rhs: (&Self::Storage<E>, &Layout),
        _addend: (&Self::Storage<E>, &Layout),
    ) -> Option<Result<Self::Storage<E>>> {
        None
    }

    /// `out[i][j][k] = src[i][index[i][j][k]][k]` for `axis = 1` (and likewise for any axis): the
    /// result has the index's shape. `index` has the rank of `src` and, on axes other than `axis`,
    /// sizes no larger than `src`'s. Errors on an index outside `0..src.dims()[axis]`.
    fn gather<E: Element>(
        &self,
        src: &Self::Storage<E>,
        src_layout: &Layout,
        index: &Self::Storage<i64>,
        index_layout: &Layout,
        axis: usize,
    ) -> Result<Self::Storage<E>>;

    /// In place, the adjoint of gather: `dst[i][index[i][j][k]][k] += src[i][j][k]` (for
    /// `axis = 1`). `index` and `src` have one shape. Errors on an index outside the axis.
    #[allow(clippy::too_many_arguments)]
    fn scatter_add<E: Element>(
        &self,
        dst: &mut Self::Storage<E>,
        dst_layout: &Layout,
        index: &Self::Storage<i64>,
        index_layout: &Layout,
        src: &Self::Storage<E>,
        src_layout: &Layout,
        axis: usize,
    ) -> Result<()>;

    /// Picks the slices `index[0], index[1], …` (a 1-D index) of `src` along `axis`. Errors on an
    /// index outside the axis.
    fn index_select<E: Element>(
        &self,
        src: &Self::Storage<E>,
        src_layout: &Layout,
        index: &Self::Storage<i64>,
        index_layout: &Layout,
        axis: usize,
    ) -> Result<Self::Storage<E>>;

    /// Unfolds sliding windows of a `[n, c, h, w]` input into columns `[n, c·kh·kw, oh·ow]`
    /// (padding reads as 0), so a convolution becomes one matmul.
    fn im2col<E: Float>(
        &self,
        x: &Self::Storage<E>,
        layout: &Layout,
        window: &Window2d,
    ) -> Result<Self::Storage<E>>;

    /// The same columns as [`Backend::im2col`] laid out `[c·kh·kw, n, oh·ow]`: window tap
    /// outermost, the batch inside, so a whole batch's convolution is one matrix product
    /// `[o, c·kh·kw] @ [c·kh·kw, n·oh·ow]` (the weight packed once, and the product wide even
    /// when each image is small). `None`, the default, when the backend has no such kernel:
    /// the array layer then transposes [`Backend::im2col`]'s result.
    fn im2col_tap_major<E: Float>(
        &self,
        _x: &Self::Storage<E>,
        _layout: &Layout,
        _window: &Window2d,
    ) -> Option<Result<Self::Storage<E>>> {
        None
    }

    /// The adjoint of im2col: sums columns `[n, c·kh·kw, oh·ow]` back into a `[n, c, h, w]` image
    /// (`image_hw = (h, w)`); overlapping windows add up.
    fn col2im<E: Float>(
        &self,
        cols: &Self::Storage<E>,
        cols_layout: &Layout,
        channels: usize,
        image_hw: (usize, usize),
        window: &Window2d,
    ) -> Result<Self::Storage<E>>;

    /// Max pooling's pick as one pass: `x` is `[planes, plane]` (any layout the backend takes),
    /// and for each plane and output `l` the result `[planes, outputs]` holds the in-plane index
    /// of the largest of `x[slots[k·outputs + l]]` over the window slots `k`, by PyTorch's rule:
    /// starting from `fallback[l]` at −∞, a value wins if it is greater or NaN, in slot order (so
    /// the first maximum, or the last NaN). A slot equal to `plane` is padding and never read.
    /// `None`, the default, when the backend has no such kernel: autograd then composes the pick
    /// from `gather` and `arg_reduce`.
    fn window_argmax<E: Float>(
        &self,
        _x: &Self::Storage<E>,
        _layout: &Layout,
        _slots: &[i64],
        _fallback: &[i64],
    ) -> Option<Result<Self::Storage<i64>>> {
        None
    }

    /// Cross-entropy of each row of `x` (`[rows, classes]` logits) against the class index in
    /// `target` (`[rows]`), fused: `(loss, lse)`, both `[rows]`, with `lse` the row's
    /// log-sum-exp and `loss = lse − x[target]` (both 0 where `target == ignore_index`). Errors
    /// on a target outside `0..classes` that is not `ignore_index`. `None`, the default, when
    /// the backend has no such kernel for these layouts: the loss is then composed from
    /// `log_softmax` and `gather`.
    #[allow(clippy::type_complexity)] // (loss, lse): a pair of storages, named in the doc
    fn cross_entropy_rows<E: Float>(
        &self,
        _x: &Self::Storage<E>,
        _x_layout: &Layout,
        _target: &Self::Storage<i64>,
        _target_layout: &Layout,
        _ignore_index: i64,
    ) -> Option<Result<(Self::Storage<E>, Self::Storage<E>)>> {
        None
    }

    /// The gradient of [`Backend::cross_entropy_rows`]' per-row losses with respect to `x`,
    /// given the forward pass's `lse` and the losses' gradient `grad` (`[rows]`):
    /// `grad[r]·(softmax(x[r]) − one_hot(target[r]))`, 0 rows where ignored. `None`, the
    /// default, when the backend has no such kernel for these layouts.
    #[allow(clippy::too_many_arguments)]
    fn cross_entropy_rows_backward<E: Float>(
        &self,
        _x: &Self::Storage<E>,
        _x_layout: &Layout,
        _lse: &Self::Storage<E>,
        _lse_layout: &Layout,
        _target: &Self::Storage<i64>,
        _target_layout: &Layout,
        _grad: &Self::Storage<E>,
        _grad_layout: &Layout,
        _ignore_index: i64,
    ) -> Option<Result<Self::Storage<E>>> {
        None
    }

    /// Layer normalisation of each row of `x` (its last axis, `n` > 0 elements; shapes checked
    /// by the caller): `y = (x − mean)·rstd·w + b` with the row's mean and `rstd = 1/√(var +
    /// eps)` (the biased variance), `w` and `b` (`[n]`) optional. Returns `(y, mean, rstd)`,
    /// contiguous, the statistics one per row. `None`, the default, when the backend has no
    /// fused kernel for these layouts (the caller composes it from reductions and maps).
    #[allow(clippy::type_complexity)] // (y, mean, rstd), named in the doc
    fn layer_norm_rows<E: Float>(
        &self,
        _x: &Self::Storage<E>,
        _x_layout: &Layout,
        _weight: Option<(&Self::Storage<E>, &Layout)>,
        _bias: Option<(&Self::Storage<E>, &Layout)>,
        _eps: f64,
    ) -> Option<Result<(Self::Storage<E>, Self::Storage<E>, Self::Storage<E>)>> {
        None
    }

    /// The backward pass of [`Backend::layer_norm_rows`] from the gradient `g` of `y` and the
    /// forward pass's row statistics: `(dx, dw, db)`, contiguous, with `x̂ = (x − mean)·rstd`,
    /// `ĝ = g·w` (`g` without a weight), `dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂))` per row,
    /// `dw = Σ_rows g·x̂` and `db = Σ_rows g` (`[n]` each). `None` when the backend has no
    /// fused kernel for these layouts.
    #[allow(clippy::type_complexity)] // (dx, dw, db), named in the doc
    fn layer_norm_rows_backward<E: Float>(
        &self,
        _x: (&Self::Storage<E>, &Layout),
        _g: (&Self::Storage<E>, &Layout),
        _mean: (&Self::Storage<E>, &Layout),
        _rstd: (&Self::Storage<E>, &Layout),
        _weight: Option<(&Self::Storage<E>, &Layout)>,
    ) -> Option<Result<(Self::Storage<E>, Self::Storage<E>, Self::Storage<E>)>> {
        None
    }

    /// Batch normalisation's training pass over `x` (`[N, C, *]`, at least two values per
    /// channel; shapes checked by the caller): per channel, the mean and the biased variance
    /// over the batch and every other axis, and `y = (x − mean)·rstd·w[c] + b[c]` with `rstd =
    /// 1/√(var + eps)`, `w` and `b` (`[C]`) optional. Returns `(y, mean, var)`, contiguous, the
    /// statistics `[C]`. `None`, the default, when the backend has no fused kernel for these
    /// layouts (the caller composes it).
    #[allow(clippy::type_complexity)] // (y, mean, var), named in the doc
    fn batch_norm_channels<E: Float>(
        &self,
        _x: &Self::Storage<E>,
        _x_layout: &Layout,
        _weight: Option<(&Self::Storage<E>, &Layout)>,
        _bias: Option<(&Self::Storage<E>, &Layout)>,
        _eps: f64,
    ) -> Option<Result<(Self::Storage<E>, Self::Storage<E>, Self::Storage<E>)>> {
        None
    }

    /// The backward pass of [`Backend::batch_norm_channels`] from the gradient `g` of `y` and
    /// the forward pass's per-channel `mean` and `var`: `(dx, dw, db)`, contiguous, with `x̂ =
    /// (x − mean)·rstd`, per channel `dx = rstd·w·(g − mean(g) − x̂·mean(g·x̂))` (`w` = 1
    /// without a weight), `dw = Σ g·x̂` and `db = Σ g` (`[C]` each). `None` when the backend
    /// has no fused kernel for these layouts.
    #[allow(clippy::type_complexity)] // (dx, dw, db), named in the doc
    fn batch_norm_channels_backward<E: Float>(
        &self,
        _x: (&Self::Storage<E>, &Layout),
        _g: (&Self::Storage<E>, &Layout),
        _mean: (&Self::Storage<E>, &Layout),
        _var: (&Self::Storage<E>, &Layout),
        _weight: Option<(&Self::Storage<E>, &Layout)>,
        _eps: f64,
    ) -> Option<Result<(Self::Storage<E>, Self::Storage<E>, Self::Storage<E>)>> {
        None
    }

    /// One LSTM step's element-wise part, [`LstmUnit`](crate::op::LstmUnit) for every element, from the gate
    /// pre-activations `pre` (`[n, 4·hidden]`) and the cell state `c` (`[n, hidden]`), shapes
    /// checked by the caller: contiguous `[h', c']`; with `saved`, also writes the backward
    /// pass's factors into `[qd ([n, 4·hidden]), s_c, f]` (writable, of those shapes, sharing
    /// no storage with each other or the inputs). `None`, the default, when the backend has no
    /// fused kernel for these layouts (the caller composes the step from element-wise ops).
    fn lstm_cell<E: Float>(
        &self,
        _pre: &Self::Storage<E>,
        _pre_layout: &Layout,
        _c: &Self::Storage<E>,
        _c_layout: &Layout,
        _saved: Option<[(&mut Self::Storage<E>, &Layout); 3]>,
    ) -> Option<Result<Vec<Self::Storage<E>>>> {
        None
    }

    /// The backward pass of [`Backend::lstm_cell`],
    /// [`LstmUnitGrad`](crate::op::LstmUnitGrad) for every element: from the gradients
    /// `[dh, dc]` of `h'` and `c'` (`[n, hidden]`) and the saved factors `[qd, s_c, f]`, shapes
    /// checked by the caller, writes the gate pre-activations' gradients into `d_pre`
    /// (`[n, 4·hidden]`, writable, sharing no storage with the inputs) and returns `dc_prev`,
    /// contiguous. `None`, the default, when the backend has no fused kernel for these layouts
    /// (the caller composes it from element-wise ops).
    fn lstm_cell_backward<E: Float>(
        &self,
        _grads: [(&Self::Storage<E>, &Layout); 2],
        _saved: [(&Self::Storage<E>, &Layout); 3],
        _d_pre: (&mut Self::Storage<E>, &Layout),
    ) -> Option<Result<Self::Storage<E>>> {
        None
    }

    /// One LSTM layer's recurrence in one direction over a whole sequence
    /// ([`NDArray::lstm_recurrence`](crate::NDArray::lstm_recurrence) without masks), shapes
    /// checked by the caller: from the input's share of the gates `xp` (`[steps·batch,
    /// 4·hidden]`, biases included), `W_hhᵀ` (`[hidden, 4·hidden]`) and `[h0, c0]` (`[batch,
    /// hidden]`), returns, contiguous, `out` (`[steps + 2, batch, hidden]`: every step's `h`,
    /// then `h_n` and `c_n`) and, with `keep_trace`, the trace: the state each step started
    /// from (`[steps, batch, hidden]`) and the cell's backward factors `qd` (`[steps·batch,
    /// 4·hidden]`), `s_c` and `f` (`[steps·batch, hidden]`), in that order after `out`.
    /// `None`, the default, when the backend has no fused kernel for these layouts (the caller
    /// runs the steps as array ops).
    fn lstm_recurrence<E: Float>(
        &self,
        _xp: (&Self::Storage<E>, &Layout),
        _w_hh_t: (&Self::Storage<E>, &Layout),
        _state: [(&Self::Storage<E>, &Layout); 2],
        _reverse: bool,
        _keep_trace: bool,
    ) -> Option<Result<Vec<Self::Storage<E>>>> {
        None
    }

    /// The backward pass of [`Backend::lstm_recurrence`], shapes checked by the caller: from
    /// the gradient `d_all` of its `out`, `W_hh` (`[4·hidden, hidden]`) and the trace's
    /// `[qd, s_c, f]`, returns, contiguous, every step's gate gradients `d_pre`
    /// (`[steps·batch, 4·hidden]`) and the gradients of `h0` and `c0`, in that order. `None`,
    /// the default, when the backend has no fused kernel for these layouts.
    fn lstm_recurrence_backward<E: Float>(
        &self,
        _d_all: (&Self::Storage<E>, &Layout),
        _w_hh: (&Self::Storage<E>, &Layout),
        _trace: [(&Self::Storage<E>, &Layout); 3],
        _reverse: bool,
    ) -> Option<Result<Vec<Self::Storage<E>>>> {
        None
    }

    /// One optimizer step of one parameter in a single pass (see [`FusedStep`]): `param`, `grad`
    /// and each of `state` are the elements at the given contiguous range of their storage, all
    /// ranges of one length, in the order [`FusedStep::run`] lists. Returns `Ok(false)`, the
    /// default, when the backend has no fused kernel: the optimizer then composes the step from
    /// the other primitives (same arithmetic, more passes and temporaries).
    fn fused_step<E: Float>(
        &self,
        _step: &FusedStep<E>,
        _param: (&mut Self::Storage<E>, std::ops::Range<usize>),
        _grad: (&Self::Storage<E>, std::ops::Range<usize>),
        _state: &mut [(&mut Self::Storage<E>, std::ops::Range<usize>)],
    ) -> Result<bool> {
        Ok(false)
    }

    /// `Σ|x|ᵖ` over the elements of `layout`, accumulated in f64 and returned to the host (for
    /// `p = ∞`: the largest `|x|`, NaN if any element is NaN), without allocating: gradient
    /// clipping's norm. `None`, the default, when the backend has no such kernel for this
    /// layout: [`NDArray::abs_pow_sum`](crate::NDArray::abs_pow_sum) then composes it.
    fn abs_pow_sum<E: Float>(
        &self,
        _x: &Self::Storage<E>,
        _layout: &Layout,
        _p: f64,
    ) -> Option<Result<f64>> {
        None
    }

    /// Waits for queued device work to finish (a no-op on the CPU); benchmarks call it.
    fn synchronize(&self) -> Result<()> {
        Ok(())
    }
}
