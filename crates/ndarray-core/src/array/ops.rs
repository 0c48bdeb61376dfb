//! Computations: each checks shapes, broadcasts, and calls one backend primitive.

use super::NDArray;
use crate::{
    ArgReduceOp, Backend, BinaryOp, Element, Error, Float, Layout, ReduceOp, Result, ScalarSide,
    Shape, UnaryOp, Window2d,
};

impl<E: Element, B: Backend> NDArray<E, B> {
    /// `op(self, rhs)` element-wise, broadcasting both operands (NumPy/PyTorch rules).
    pub fn binary(&self, op: BinaryOp, rhs: &Self) -> Result<Self> {
        self.check_device(op.name(), rhs)?;
        Self::check_binary_dtype(op)?;
        let shape = Shape::broadcast(op.name(), self.shape(), rhs.shape())?;
        let lhs_layout = self.layout.broadcast_to(op.name(), &shape)?;
        let rhs_layout = rhs.layout.broadcast_to(op.name(), &shape)?;
        let storage = self.backend.binary(
            op,
            &self.storage(),
            &lhs_layout,
            &rhs.storage(),
            &rhs_layout,
        )?;
        Ok(Self::contiguous_from(storage, shape, &self.backend))
    }

    /// `op(self, scalar)`, or `op(scalar, self)` when `side` is [`ScalarSide::Left`].
    pub fn binary_scalar(&self, op: BinaryOp, scalar: E, side: ScalarSide) -> Result<Self> {
        Self::check_binary_dtype(op)?;
        let storage =
            self.backend
                .binary_scalar(op, &self.storage(), &self.layout, scalar, side)?;
        Ok(Self::contiguous_from(
            storage,
            self.shape().clone(),
            &self.backend,
        ))
    }

    /// `cond != 0 ? on_true : on_false`, broadcasting all three (`torch.where`).
    pub fn where_cond(cond: &Self, on_true: &Self, on_false: &Self) -> Result<Self> {
        cond.check_device("where", on_true)?;
        cond.check_device("where", on_false)?;
        let values = Shape::broadcast("where", on_true.shape(), on_false.shape())?;
        let shape = Shape::broadcast("where", cond.shape(), &values)?;
        let storage = cond.backend.where_cond(
            &cond.storage(),
            &cond.layout.broadcast_to("where", &shape)?,
            &on_true.storage(),
            &on_true.layout.broadcast_to("where", &shape)?,
            &on_false.storage(),
            &on_false.layout.broadcast_to("where", &shape)?,
        )?;
        Ok(Self::contiguous_from(storage, shape, &cond.backend))
    }

    /// Reduces over `axes` (empty = all axes), keeping them as size 1 when `keepdim`.
    pub fn reduce(&self, op: ReduceOp, axes: &[isize], keepdim: bool) -> Result<Self> {
        // PyTorch counts when it sums booleans (the result is an integer); a `Bool` result
        // cannot hold a count, so say how to get one.
        if E::DTYPE == crate::DType::Bool && matches!(op, ReduceOp::Sum | ReduceOp::Prod) {
            return Err(Error::invalid(
                op.name(),
                "cannot sum or multiply booleans into a boolean: cast to i64 first (`x.cast::<i64>()`)",
                self.shape(),
            ));
        }
        let axes = self.shape().axes(op.name(), axes)?;
        let storage = self
            .backend
            .reduce(op, &self.storage(), &self.layout, &axes)?;
        let kept: Vec<usize> = self
            .dims()
            .iter()
            .enumerate()
            .map(|(i, &d)| if axes.contains(&i) { 1 } else { d })
            .collect();
        let out = Self::contiguous_from(storage, kept, &self.backend);
        if keepdim {
            Ok(out)
        } else {
            let dropped: Vec<usize> = (0..self.rank())
                .filter(|i| !axes.contains(i))
                .map(|i| self.dims()[i])
                .collect();
            out.reshape(dropped)
        }
    }

    /// Index of the extreme element along `axis` (`None`: over the flattened array, giving a 0-d
    /// result), as `torch.argmax` / `torch.argmin`.
    pub fn arg_reduce(
        &self,
        op: ArgReduceOp,
        axis: Option<isize>,
        keepdim: bool,
    ) -> Result<NDArray<i64, B>> {
        let Some(axis) = axis else {
            let flat = self.reshape([self.numel()])?;
            let out = flat.arg_reduce(op, Some(0), false)?;
            return if keepdim {
                out.reshape(vec![1; self.rank()])
            } else {
                Ok(out)
            };
        };
        let axis = self.shape().axis(op.name(), axis)?;
        if self.dims()[axis] == 0 {
            return Err(Error::invalid(
                op.name(),
                format!("axis {axis} is empty"),
                self.shape(),
            ));
        }
        let storage = self
            .backend
            .arg_reduce(op, &self.storage(), &self.layout, axis)?;
        let mut kept = self.dims().to_vec();
        kept[axis] = 1;
        let out = NDArray::contiguous_from(storage, kept, &self.backend);
        if keepdim {
            Ok(out)
        } else {
            out.squeeze(axis as isize)
        }
    }

    /// Picks values along `axis` at `index` (same rank as `self`), as `torch.gather`.
    pub fn gather(&self, axis: isize, index: &NDArray<i64, B>) -> Result<Self> {
        let axis = self.shape().axis("gather", axis)?;
        self.check_index_shape("gather", axis, index.shape())?;
        let storage = self.backend.gather(
            &self.storage(),
            &self.layout,
            &index.storage(),
            &index.layout,
            axis,
        )?;
        Ok(Self::contiguous_from(
            storage,
            index.shape().clone(),
            &self.backend,
        ))
    }

    /// A copy of `self` with `src` added at `index` along `axis`, as `torch.scatter_add`.
    pub fn scatter_add(&self, axis: isize, index: &NDArray<i64, B>, src: &Self) -> Result<Self> {
        self.copy()?.scatter_add_owned(axis, index, src)
    }

    /// Zeros of `shape` with `src` added at `index` along `axis`, as
    /// `torch.zeros(shape).scatter_add_(axis, index, src)`: gather's adjoint (its backward
    /// pass), written into the fresh zeros instead of into a copy of them.
    pub fn scatter_add_zeros(
        shape: impl Into<Shape>,
        axis: isize,
        index: &NDArray<i64, B>,
        src: &Self,
    ) -> Result<Self> {
        Self::zeros(shape, &src.backend)?.scatter_add_owned(axis, index, src)
    }

    /// `self`, which nothing else shares, with `src` added at `index` in place.
    fn scatter_add_owned(self, axis: isize, index: &NDArray<i64, B>, src: &Self) -> Result<Self> {
        let axis = self.shape().axis("scatter_add", axis)?;
        self.check_index_shape("scatter_add", axis, index.shape())?;
        if index.shape() != src.shape() {
            return Err(Error::ShapeMismatch {
                op: "scatter_add",
                what: "index and src shapes differ",
                lhs: index.shape().clone(),
                rhs: src.shape().clone(),
            });
        }
        self.backend.scatter_add(
            &mut self.storage_mut(),
            &self.layout,
            &index.storage(),
            &index.layout,
            &src.storage(),
            &src.layout,
            axis,
        )?;
        Ok(self)
    }

    fn check_index_shape(&self, op: &'static str, axis: usize, index: &Shape) -> Result<()> {
        let fits = index.rank() == self.rank()
            && (0..self.rank()).all(|i| i == axis || index.dims()[i] <= self.dims()[i]);
        if fits {
            Ok(())
        } else {
            Err(Error::ShapeMismatch {
                op,
                what: "index must have the input's rank and no larger sizes off the axis",
                lhs: self.shape().clone(),
                rhs: index.clone(),
            })
        }
    }

    /// The slices at `index` (1-D) along `axis`, as `torch.index_select`.
    pub fn index_select(&self, axis: isize, index: &NDArray<i64, B>) -> Result<Self> {
        let axis = self.shape().axis("index_select", axis)?;
        if index.rank() != 1 {
            return Err(Error::invalid(
                "index_select",
                "index must be 1-D",
                index.shape(),
            ));
        }
        let storage = self.backend.index_select(
            &self.storage(),
            &self.layout,
            &index.storage(),
            &index.layout,
            axis,
        )?;
        let mut dims = self.dims().to_vec();
        dims[axis] = index.numel();
        Ok(Self::contiguous_from(storage, dims, &self.backend))
    }

    /// Joins arrays of one shape except along `axis`, as `torch.cat`.
    pub fn cat(arrays: &[Self], axis: isize) -> Result<Self> {
        let first = arrays
            .first()
            .ok_or_else(|| Error::invalid("cat", "needs at least one array", &Shape::scalar()))?;
        let axis = first.shape().axis("cat", axis)?;
        let mut dims = first.dims().to_vec();
        dims[axis] = 0;
        for a in arrays {
            first.check_device("cat", a)?;
            let same = a.rank() == first.rank()
                && (0..a.rank()).all(|i| i == axis || a.dims()[i] == first.dims()[i]);
            if !same {
                return Err(Error::ShapeMismatch {
                    op: "cat",
                    what: "shapes differ off the joined axis",
                    lhs: first.shape().clone(),
                    rhs: a.shape().clone(),
                });
            }
            dims[axis] += a.dims()[axis];
        }
        let out = Self::zeros(dims, &first.backend)?;
        let mut start = 0;
        for a in arrays {
            let len = a.dims()[axis];
            out.narrow(axis as isize, start, len)?.assign(a)?;
            start += len;
        }
        Ok(out)
    }

    /// In place: writes `src` (broadcast to `self`'s shape) into `self`'s elements, through to every
    /// view sharing the storage (PyTorch's `copy_`).
    pub fn assign(&self, src: &Self) -> Result<()> {
        self.check_writable("assign")?;
        self.check_device("assign", src)?;
        let src_layout = src.layout.broadcast_to("assign", self.shape())?;
        if self.same_storage(src) {
            return self.assign(&src.copy()?);
        }
        self.backend.assign(
            &mut self.storage_mut(),
            &self.layout,
            &src.storage(),
            &src_layout,
        )
    }

    /// In place: `self = op(self, rhs)` with `rhs` broadcast to `self`'s shape (`add_`, `mul_`, …).
    pub fn binary_assign(&self, op: BinaryOp, rhs: &Self) -> Result<()> {
        Self::check_binary_dtype(op)?;
        self.check_writable(op.name())?;
        self.check_device(op.name(), rhs)?;
        let rhs_layout = rhs.layout.broadcast_to(op.name(), self.shape())?;
        if self.same_storage(rhs) {
            return self.binary_assign(op, &rhs.copy()?);
        }
        self.backend.binary_inplace(
            op,
            &mut self.storage_mut(),
            &self.layout,
            &rhs.storage(),
            &rhs_layout,
        )
    }

    /// In place: `self = op(self, scalar)`.
    pub fn scalar_assign(&self, op: BinaryOp, scalar: E) -> Result<()> {
        Self::check_binary_dtype(op)?;
        self.check_writable(op.name())?;
        self.backend
            .scalar_inplace(op, &mut self.storage_mut(), &self.layout, scalar)
    }

    /// In place, fused: `self = alpha·self + beta·x`, with `x` broadcast to `self`'s shape
    /// (an optimizer's momentum update or moving average in one pass).
    pub fn axpby_assign(&self, alpha: E, x: &Self, beta: E) -> Result<()>
    where
        E: Float,
    {
        self.check_writable("axpby")?;
        self.check_device("axpby", x)?;
        let x_layout = x.layout.broadcast_to("axpby", self.shape())?;
        if self.same_storage(x) {
            return self.axpby_assign(alpha, &x.copy()?, beta);
        }
        self.backend.axpby_inplace(
            &mut self.storage_mut(),
            &self.layout,
            alpha,
            &x.storage(),
            &x_layout,
            beta,
        )
    }

    /// A float-only op (`atan2`) on integers is an error, as in PyTorch's integer kernels that do
    /// not exist, rather than a silent 0.
    /// Booleans take the logical ops and comparisons only: `-`, `/` and powers of booleans are
    /// refused, as PyTorch refuses them.
    fn check_binary_dtype(op: BinaryOp) -> Result<()> {
        if !op.supports(E::DTYPE) {
            return Err(Error::DType {
                op: op.name(),
                expected: crate::DType::F32,
                got: E::DTYPE,
            });
        }
        Ok(())
    }

    fn check_writable(&self, op: &'static str) -> Result<()> {
        crate::checks::writable(op, &self.layout)
    }
}

macro_rules! reduce_methods {
    ($($name:ident => $op:ident;)*) => {
        impl<E: Element, B: Backend> NDArray<E, B> {
            $(
                #[doc = concat!("`", stringify!($name), "` over `axes` (empty = all), keeping them as size 1 when `keepdim`.")]
                pub fn $name(&self, axes: &[isize], keepdim: bool) -> Result<Self> {
                    self.reduce(ReduceOp::$op, axes, keepdim)
                }
            )*
        }
    };
}

reduce_methods! {
    sum => Sum;
    prod => Prod;
    max => Max;
    min => Min;
}

impl<E: Element, B: Backend> NDArray<E, B> {
    /// Sum of every element, as a 0-d array.
    pub fn sum_all(&self) -> Result<Self> {
        self.sum(&[], false)
    }

    /// Index of the maximum along `axis` (`None`: of the flattened array).
    pub fn argmax(&self, axis: Option<isize>, keepdim: bool) -> Result<NDArray<i64, B>> {
        self.arg_reduce(ArgReduceOp::ArgMax, axis, keepdim)
    }

    /// Index of the minimum along `axis` (`None`: of the flattened array).
    pub fn argmin(&self, axis: Option<isize>, keepdim: bool) -> Result<NDArray<i64, B>> {
        self.arg_reduce(ArgReduceOp::ArgMin, axis, keepdim)
    }
}

impl<E: Float, B: Backend> NDArray<E, B> {
    /// `op(x)` for each element.
    pub fn unary(&self, op: UnaryOp) -> Result<Self> {
        let storage = self.backend.unary(op, &self.storage(), &self.layout)?;
        Ok(Self::contiguous_from(
            storage,
            self.shape().clone(),
            &self.backend,
        ))
    }

    /// Mean over `axes` (empty = all).
    pub fn mean(&self, axes: &[isize], keepdim: bool) -> Result<Self> {
        let resolved = self.shape().axes("mean", axes)?;
        let count: usize = resolved.iter().map(|&a| self.dims()[a]).product();
        self.sum(axes, keepdim)?
            .div_scalar(E::from_f64(count as f64))
    }

    /// Matrix product with `torch.matmul`'s rules: 1-D operands are promoted (and the added axis
    /// removed afterwards), leading batch axes broadcast. The operands reach the backend as
    /// views: `[b, m, k]` and `[b, k, n]` where each one's batch axes merge into one, else with
    /// all the batch axes (attention's `[batch, heads]` over a fused QKV projection cannot be
    /// merged, and copying it cost several percent of a GPT step).
    pub fn matmul(&self, rhs: &Self) -> Result<Self> {
        self.product(rhs, None)
    }

    /// `self.matmul(rhs) + addend` (PyTorch's `addmm`, which `Linear` runs with its bias), in
    /// one pass where the backend can ([`Backend::matmul_add`]): the same bits as the two ops.
    /// The fused path needs matrices (no 1-D operand) and an addend that broadcasts to the
    /// product's shape; anything else is the two ops.
    pub fn matmul_add(&self, rhs: &Self, addend: &Self) -> Result<Self> {
        self.check_device("matmul_add", addend)?;
        let fits = self.rank() >= 2
            && rhs.rank() >= 2
            && Shape::matmul(self.shape(), rhs.shape())
                .is_ok_and(|s| addend.layout.broadcast_to("matmul_add", &s.out).is_ok());
        if fits {
            self.product(rhs, Some(addend))
        } else {
            self.matmul(rhs)?.add(addend)
        }
    }

    /// [`NDArray::matmul`], plus `addend` (broadcast to the product's shape, both operands
    /// matrices) when given.
    fn product(&self, rhs: &Self, addend: Option<&Self>) -> Result<Self> {
        self.check_device("matmul", rhs)?;
        let s = Shape::matmul(self.shape(), rhs.shape())?;
        // Promotion only adds axes of size 1 (or keeps the shape), so these are always views.
        let mut views = vec![
            (self.view(&s.lhs)?, s.m, s.k),
            (rhs.view(&s.rhs)?, s.k, s.n),
        ];
        if let Some(addend) = addend {
            views.push((addend.clone(), s.m, s.n));
        }
        let views = views
            .into_iter()
            .map(|(a, rows, cols)| Ok((a.broadcast_batch(&s.batch, rows, cols)?, rows, cols)))
            .collect::<Result<Vec<_>>>()?;
        // One batch axis for all, or every batch axis for all.
        let merged = views
            .iter()
            .map(|(a, rows, cols)| {
                let to = Shape::from([s.batch.numel(), *rows, *cols]);
                a.layout.reshape("matmul", &to).ok()
            })
            .collect::<Option<Vec<_>>>();
        let layouts =
            merged.unwrap_or_else(|| views.iter().map(|(a, ..)| a.layout.clone()).collect());
        let (storages, b) = (
            views.iter().map(|(a, ..)| a.storage()).collect::<Vec<_>>(),
            &self.backend,
        );
        let (lhs, rhs) = ((&*storages[0], &layouts[0]), (&*storages[1], &layouts[1]));
        let storage = match addend {
            None => b.matmul(lhs.0, lhs.1, rhs.0, rhs.1)?,
            Some(addend) => match b.matmul_add(lhs, rhs, (&*storages[2], &layouts[2])) {
                Some(fused) => fused?,
                None => {
                    let product = b.matmul(lhs.0, lhs.1, rhs.0, rhs.1)?;
                    drop(storages);
                    return Self::contiguous_from(product, s.out, b).add(addend);
                }
            },
        };
        Ok(Self::contiguous_from(storage, s.out, &self.backend))
    }

    /// Sliding windows of a `[n, c, h, w]` array as columns `[n, c·kh·kw, oh·ow]`. Where the
    /// backend has [`Backend::im2col_tap_major`] the result is a view of storage laid out
    /// `[c·kh·kw, n, oh·ow]` (strides `[oh·ow, n·oh·ow, 1]`), so that
    /// `permute([1, 0, 2])` then `reshape([c·kh·kw, n·oh·ow])` is one matrix without a copy.
    pub fn im2col(&self, window: &Window2d) -> Result<Self> {
        let [n, c, h, w] = self.dims4("im2col")?;
        let (oh, ow) = window.fit("im2col", h, w, self.shape())?;
        let (kh, kw) = window.kernel;
        if Shape::new([n, c, kh, kw, oh, ow]).checked_numel().is_none() {
            return Err(Error::invalid(
                "im2col",
                format!("window {window:?} gives more columns than a usize counts"),
                self.shape(),
            ));
        }
        let (rows, len) = (c * kh * kw, oh * ow);
        let tap_major = self
            .backend
            .im2col_tap_major(&self.storage(), &self.layout, window);
        if let Some(storage) = tap_major {
            let layout = Layout::new(vec![n, rows, len], vec![len, n * len, 1], 0);
            return Self::from_storage(storage?, layout, self.backend.clone());
        }
        let storage = self.backend.im2col(&self.storage(), &self.layout, window)?;
        Ok(Self::contiguous_from(
            storage,
            [n, rows, len],
            &self.backend,
        ))
    }

    /// Max pooling's pick over a `[planes, plane]` array, fused when the backend has the kernel
    /// ([`Backend::window_argmax`], which says what `slots` and `fallback` mean): `[planes,
    /// outputs]` in-plane indices, or `None` when the backend has none.
    pub fn window_argmax(&self, slots: &[i64], fallback: &[i64]) -> Option<Result<NDArray<i64, B>>>
    where
        E: Float,
    {
        let [planes, plane] = <[usize; 2]>::try_from(self.dims()).ok()?;
        let outputs = fallback.len();
        let fits = outputs > 0
            && slots.len().is_multiple_of(outputs)
            && slots
                .iter()
                .chain(fallback)
                .all(|&s| (0..=plane as i64).contains(&s));
        if !fits {
            return Some(Err(Error::invalid(
                "window_argmax",
                format!(
                    "{} slots for {outputs} outputs must be whole windows of positions in 0..={plane}",
                    slots.len()
                ),
                self.shape(),
            )));
        }
        let storage = self
            .backend
            .window_argmax(&self.storage(), &self.layout, slots, fallback)?;
        Some(
            storage
                .map(|s| NDArray::<i64, B>::contiguous_from(s, [planes, outputs], &self.backend)),
        )
    }

    /// Sums columns `[n, c·kh·kw, oh·ow]` back into a `[n, c, h, w]` image (the adjoint of im2col).
    pub fn col2im(
        &self,
        channels: usize,
        image_hw: (usize, usize),
        window: &Window2d,
    ) -> Result<Self> {
        let (h, w) = image_hw;
        let expected = window.output_size(h, w).and_then(|(oh, ow)| {
            let rows = channels
                .checked_mul(window.kernel.0)?
                .checked_mul(window.kernel.1)?;
            Some((rows, oh.checked_mul(ow)?))
        });
        let ok = self.rank() == 3 && expected == Some((self.dims()[1], self.dims()[2]));
        if !ok {
            return Err(Error::invalid(
                "col2im",
                format!("columns do not match {channels} channels of {h}x{w} with {window:?}"),
                self.shape(),
            ));
        }
        let storage =
            self.backend
                .col2im(&self.storage(), &self.layout, channels, image_hw, window)?;
        Ok(Self::contiguous_from(
            storage,
            [self.dims()[0], channels, h, w],
            &self.backend,
        ))
    }

    /// Broadcasts a `[..., rows, cols]` operand to `batch + [rows, cols]`, with at least one
    /// batch axis (a matrix gets one of size 1).
    fn broadcast_batch(&self, batch: &Shape, rows: usize, cols: usize) -> Result<Self> {
        let mut full = batch.dims().to_vec();
        if full.is_empty() {
            full.push(1);
        }
        full.extend([rows, cols]);
        self.broadcast_to(full)
    }

    fn dims4(&self, op: &'static str) -> Result<[usize; 4]> {
        <[usize; 4]>::try_from(self.dims())
            .map_err(|_| Error::invalid(op, "expects a [n, c, h, w] array", self.shape()))
    }
}
