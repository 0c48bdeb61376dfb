#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod gemm;
mod kernels;
mod parallel;
mod placement;
mod storage;
mod workers;

pub use storage::{pool_bytes, set_pool_limit, CpuStorage, DEFAULT_LIMIT};

use nanotorch_ndarray_core::{
    ArgReduceOp, Backend, BinaryOp, Element, Float, FusedStep, Layout, RandomDist, ReduceOp,
    Result, ScalarSide, UnaryOp, Window2d,
};
use std::ops::Range;

/// The CPU device (a unit struct: there is one host).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cpu;

// Preconditions live in `nanotorch_ndarray_core::checks`, shared with every backend, so the
// same mistake gives the same error on every device.
use kernels::ColumnOrder;
use nanotorch_ndarray_core::checks::{self, fits as check_fits, same_shape as check_same_shape};
use nanotorch_ndarray_core::op::Softmax;

impl Backend for Cpu {
    type Storage<E: Element> = CpuStorage<E>;

    fn name(&self) -> String {
        "cpu".to_string()
    }

    fn same_device(&self, _other: &Self) -> bool {
        true
    }

    fn storage_len<E: Element>(&self, storage: &CpuStorage<E>) -> usize {
        storage.len()
    }

    fn from_slice<E: Element>(&self, data: &[E]) -> Result<CpuStorage<E>> {
        // The copy of a slice that exists: its size was allocated once already.
        Ok(kernels::map_contiguous(data, 1, |x| x))
    }

    fn from_vec<E: Element>(&self, data: Vec<E>) -> Result<CpuStorage<E>> {
        Ok(CpuStorage::from_vec(data))
    }

    fn to_vec<E: Element>(&self, storage: &CpuStorage<E>, layout: &Layout) -> Result<Vec<E>> {
        Ok(self.copy_strided(storage, layout)?.into_vec())
    }

    fn full<E: Element>(&self, len: usize, value: E) -> Result<CpuStorage<E>> {
        if bytemuck::bytes_of(&value).iter().all(|&b| b == 0) {
            // Zeros (most fills: gradient buffers, outputs written step by step) through the C
            // library's `memset`, which picks the widest stores this CPU has; the loop below
            // is compiled for the build's baseline, 16 bytes per store (the LSTM benchmark
            // zero-fills several MiB per step: 5% of its time on one thread went there).
            return CpuStorage::try_build("full", len, |out| {
                parallel::par_chunks(out, 1, len, |_, chunk| {
                    // SAFETY: `chunk` is this closure's own, and all-zero bytes are a valid
                    // `E` (it is `Pod`, and these are `value`'s bytes).
                    unsafe { std::ptr::write_bytes(chunk.as_mut_ptr(), 0, chunk.len()) }
                })
            });
        }
        CpuStorage::try_generate("full", len, 1, |_| value)
    }

    fn arange<E: Element>(&self, start: f64, step: f64, len: usize) -> Result<CpuStorage<E>> {
        CpuStorage::try_generate("arange", len, 1, |i| E::from_f64(start + step * i as f64))
    }

    fn random<E: Float>(&self, len: usize, dist: RandomDist, seed: u64) -> Result<CpuStorage<E>> {
        CpuStorage::try_generate("random", len, kernels::TRANSCENDENTAL_COST, |i| {
            E::from_f64(nanotorch_ndarray_core::random::sample_at(
                dist, seed, i as u64,
            ))
        })
    }

    fn copy_strided<E: Element>(
        &self,
        src: &CpuStorage<E>,
        layout: &Layout,
    ) -> Result<CpuStorage<E>> {
        check_fits("copy", layout, src.len())?;
        Ok(kernels::map1(src.as_slice(), layout, 1, |x| x))
    }

    fn assign<E: Element>(
        &self,
        dst: &mut CpuStorage<E>,
        dst_layout: &Layout,
        src: &CpuStorage<E>,
        src_layout: &Layout,
    ) -> Result<()> {
        check_fits("assign", dst_layout, dst.len())?;
        checks::writable("assign", dst_layout)?;
        check_fits("assign", src_layout, src.len())?;
        check_same_shape("assign", dst_layout, src_layout)?;
        kernels::update(
            dst.as_mut_slice(),
            dst_layout,
            src.as_slice(),
            src_layout,
            |_, b| b,
        );
        Ok(())
    }

    fn cast<E: Element, T: Element>(
        &self,
        src: &CpuStorage<E>,
        layout: &Layout,
    ) -> Result<CpuStorage<T>> {
        check_fits("cast", layout, src.len())?;
        if E::DTYPE == T::DTYPE {
            // The same type: a bit-exact copy (i64 must not round-trip through f64).
            return Ok(kernels::map1(src.as_slice(), layout, 1, |x| {
                bytemuck::cast::<E, T>(x)
            }));
        }
        Ok(kernels::map1(src.as_slice(), layout, 1, |x| {
            T::from_f64(x.to_f64())
        }))
    }

    fn unary<E: Float>(
        &self,
        op: UnaryOp,
        x: &CpuStorage<E>,
        layout: &Layout,
    ) -> Result<CpuStorage<E>> {
        check_fits(op.name(), layout, x.len())?;
        Ok(kernels::unary(op, x.as_slice(), layout))
    }

    fn binary<E: Element>(
        &self,
        op: BinaryOp,
        lhs: &CpuStorage<E>,
        lhs_layout: &Layout,
        rhs: &CpuStorage<E>,
        rhs_layout: &Layout,
    ) -> Result<CpuStorage<E>> {
        check_fits(op.name(), lhs_layout, lhs.len())?;
        check_fits(op.name(), rhs_layout, rhs.len())?;
        check_same_shape(op.name(), lhs_layout, rhs_layout)?;
        Ok(kernels::binary(
            op,
            lhs.as_slice(),
            lhs_layout,
            rhs.as_slice(),
            rhs_layout,
        ))
    }

    fn binary_scalar<E: Element>(
        &self,
        op: BinaryOp,
        x: &CpuStorage<E>,
        layout: &Layout,
        scalar: E,
        side: ScalarSide,
    ) -> Result<CpuStorage<E>> {
        check_fits(op.name(), layout, x.len())?;
        Ok(kernels::binary_scalar(
            op,
            x.as_slice(),
            layout,
            scalar,
            side,
        ))
    }

    fn binary_inplace<E: Element>(
        &self,
        op: BinaryOp,
        dst: &mut CpuStorage<E>,
        dst_layout: &Layout,
        rhs: &CpuStorage<E>,
        rhs_layout: &Layout,
    ) -> Result<()> {
        check_fits(op.name(), dst_layout, dst.len())?;
        checks::writable(op.name(), dst_layout)?;
        check_fits(op.name(), rhs_layout, rhs.len())?;
        check_same_shape(op.name(), dst_layout, rhs_layout)?;
        kernels::binary_inplace(
            op,
            dst.as_mut_slice(),
            dst_layout,
            rhs.as_slice(),
            rhs_layout,
        );
        Ok(())
    }

    fn axpby_inplace<E: Float>(
        &self,
        dst: &mut CpuStorage<E>,
        dst_layout: &Layout,
        alpha: E,
        x: &CpuStorage<E>,
        x_layout: &Layout,
        beta: E,
    ) -> Result<()> {
        check_fits("axpby", dst_layout, dst.len())?;
        checks::writable("axpby", dst_layout)?;
        check_fits("axpby", x_layout, x.len())?;
        check_same_shape("axpby", dst_layout, x_layout)?;
        kernels::update(
            dst.as_mut_slice(),
            dst_layout,
            x.as_slice(),
            x_layout,
            move |d, v| alpha * d + beta * v,
        );
        Ok(())
    }

    fn scalar_inplace<E: Element>(
        &self,
        op: BinaryOp,
        dst: &mut CpuStorage<E>,
        dst_layout: &Layout,
        scalar: E,
    ) -> Result<()> {
        check_fits(op.name(), dst_layout, dst.len())?;
        checks::writable(op.name(), dst_layout)?;
        kernels::scalar_inplace(op, dst.as_mut_slice(), dst_layout, scalar);
        Ok(())
    }

    fn where_cond<E: Element>(
        &self,
        cond: &CpuStorage<E>,
        cond_layout: &Layout,
        on_true: &CpuStorage<E>,
        true_layout: &Layout,
        on_false: &CpuStorage<E>,
        false_layout: &Layout,
    ) -> Result<CpuStorage<E>> {
        check_fits("where", cond_layout, cond.len())?;
        check_fits("where", true_layout, on_true.len())?;
        check_fits("where", false_layout, on_false.len())?;
        check_same_shape("where", cond_layout, true_layout)?;
        check_same_shape("where", cond_layout, false_layout)?;
        Ok(kernels::where_cond(
            [cond.as_slice(), on_true.as_slice(), on_false.as_slice()],
            [cond_layout, true_layout, false_layout],
        ))
    }

    fn reduce<E: Element>(
        &self,
        op: ReduceOp,
        x: &CpuStorage<E>,
        layout: &Layout,
        axes: &[usize],
    ) -> Result<CpuStorage<E>> {
        check_fits(op.name(), layout, x.len())?;
        checks::reduce_axes(op.name(), layout, axes)?;
        Ok(kernels::reduce(op, x.as_slice(), layout, axes))
    }

    fn softmax_last<E: Float>(
        &self,
        x: &CpuStorage<E>,
        layout: &Layout,
        op: Softmax,
    ) -> Option<Result<CpuStorage<E>>> {
        if let Err(e) = check_fits("softmax", layout, x.len()) {
            return Some(Err(e));
        }
        kernels::softmax_last(x.as_slice(), layout, op).map(Ok)
    }

    fn softmax_last_backward<E: Float>(
        &self,
        y: &CpuStorage<E>,
        y_layout: &Layout,
        g: &CpuStorage<E>,
        g_layout: &Layout,
        op: Softmax,
    ) -> Option<Result<CpuStorage<E>>> {
        let fits = check_fits("softmax backward", y_layout, y.len())
            .and_then(|()| check_fits("softmax backward", g_layout, g.len()));
        if let Err(e) = fits {
            return Some(Err(e));
        }
        kernels::softmax_last_backward(y.as_slice(), y_layout, g.as_slice(), g_layout, op).map(Ok)
    }

    fn lstm_cell<E: Float>(
        &self,
        pre: &CpuStorage<E>,
        pre_layout: &Layout,
        c: &CpuStorage<E>,
        c_layout: &Layout,
        saved: Option<[(&mut CpuStorage<E>, &Layout); 3]>,
    ) -> Option<Result<Vec<CpuStorage<E>>>> {
        let fits = check_fits("lstm_cell", pre_layout, pre.len())
            .and_then(|()| check_fits("lstm_cell", c_layout, c.len()))
            .and_then(|()| {
                saved
                    .iter()
                    .flatten()
                    .try_for_each(|(s, l)| check_fits("lstm_cell", l, s.len()))
            });
        if let Err(e) = fits {
            return Some(Err(e));
        }
        let saved = saved.map(|outs| outs.map(|(s, l)| (s.as_mut_slice(), l)));
        kernels::lstm_cell(pre.as_slice(), pre_layout, c.as_slice(), c_layout, saved).map(Ok)
    }

    fn lstm_cell_backward<E: Float>(
        &self,
        grads: [(&CpuStorage<E>, &Layout); 2],
        saved: [(&CpuStorage<E>, &Layout); 3],
        (d_pre, d_pre_layout): (&mut CpuStorage<E>, &Layout),
    ) -> Option<Result<CpuStorage<E>>> {
        let fits = grads
            .iter()
            .chain(&saved)
            .chain([&(&*d_pre, d_pre_layout)])
            .try_for_each(|(s, l)| check_fits("lstm_cell backward", l, s.len()));
        if let Err(e) = fits {
            return Some(Err(e));
        }
        fn slices<'a, E: Float>((s, l): (&'a CpuStorage<E>, &'a Layout)) -> (&'a [E], &'a Layout) {
            (s.as_slice(), l)
        }
        kernels::lstm_cell_backward(
            grads.map(slices),
            saved.map(slices),
            (d_pre.as_mut_slice(), d_pre_layout),
        )
        .map(Ok)
    }

    fn lstm_recurrence<E: Float>(
        &self,
        xp: (&CpuStorage<E>, &Layout),
        w_hh_t: (&CpuStorage<E>, &Layout),
        [h0, c0]: [(&CpuStorage<E>, &Layout); 2],
        reverse: bool,
        keep_trace: bool,
    ) -> Option<Result<Vec<CpuStorage<E>>>> {
        let reads = [xp, w_hh_t, h0, c0];
        if let Err(e) = fits_all("lstm_recurrence", reads) {
            return Some(Err(e));
        }
        let (&[rows, _], &[batch, hidden]) = (xp.1.dims(), h0.1.dims()) else {
            return None;
        };
        let recurrence = kernels::Recurrence {
            steps: rows.checked_div(batch)?,
            batch,
            hidden,
            reverse,
        };
        let [xp, w_hh_t, h0, c0] = reads.map(|r| kernels::contiguous(as_slice(r)));
        let (out, trace) =
            kernels::lstm_recurrence(xp?, w_hh_t?, [h0?, c0?], keep_trace, recurrence)?;
        let storages = std::iter::once(out).chain(trace.into_iter().flatten());
        Some(Ok(storages.map(CpuStorage::from_vec).collect()))
    }

    fn lstm_recurrence_backward<E: Float>(
        &self,
        d_all: (&CpuStorage<E>, &Layout),
        w_hh: (&CpuStorage<E>, &Layout),
        cells: [(&CpuStorage<E>, &Layout); 3],
        reverse: bool,
    ) -> Option<Result<Vec<CpuStorage<E>>>> {
        let reads = [d_all, w_hh, cells[0], cells[1], cells[2]];
        if let Err(e) = fits_all("lstm_recurrence backward", reads) {
            return Some(Err(e));
        }
        let &[steps, batch, hidden] = d_all.1.dims() else {
            return None;
        };
        let recurrence = kernels::Recurrence {
            steps: steps.checked_sub(2)?,
            batch,
            hidden,
            reverse,
        };
        let [d_all, w_hh, qd, s_c, f] = reads.map(|r| kernels::contiguous(as_slice(r)));
        let grads = kernels::lstm_recurrence_backward(d_all?, w_hh?, [qd?, s_c?, f?], recurrence)?;
        Some(Ok(grads.into_iter().map(CpuStorage::from_vec).collect()))
    }

    #[allow(clippy::type_complexity)] // (y, mean, var), as the trait says
    fn batch_norm_channels<E: Float>(
        &self,
        x: &CpuStorage<E>,
        x_layout: &Layout,
        weight: Option<(&CpuStorage<E>, &Layout)>,
        bias: Option<(&CpuStorage<E>, &Layout)>,
        eps: f64,
    ) -> Option<Result<(CpuStorage<E>, CpuStorage<E>, CpuStorage<E>)>> {
        let parts = [Some((x, x_layout)), weight, bias];
        if let Err(e) = fits_all("batch_norm", parts.iter().flatten().copied()) {
            return Some(Err(e));
        }
        let (weight, bias) = (weight.map(as_slice), bias.map(as_slice));
        kernels::batch_norm_channels((x.as_slice(), x_layout), weight, bias, eps).map(Ok)
    }

    #[allow(clippy::type_complexity)] // (dx, dw, db), as the trait says
    fn batch_norm_channels_backward<E: Float>(
        &self,
        x: (&CpuStorage<E>, &Layout),
        g: (&CpuStorage<E>, &Layout),
        mean: (&CpuStorage<E>, &Layout),
        var: (&CpuStorage<E>, &Layout),
        weight: Option<(&CpuStorage<E>, &Layout)>,
        eps: f64,
    ) -> Option<Result<(CpuStorage<E>, CpuStorage<E>, CpuStorage<E>)>> {
        let parts = [Some(x), Some(g), Some(mean), Some(var), weight];
        if let Err(e) = fits_all("batch_norm", parts.iter().flatten().copied()) {
            return Some(Err(e));
        }
        kernels::batch_norm_channels_backward(
            as_slice(x),
            as_slice(g),
            as_slice(mean),
            as_slice(var),
            weight.map(as_slice),
            eps,
        )
        .map(Ok)
    }

    #[allow(clippy::type_complexity)] // (y, mean, rstd), as the trait says
    fn layer_norm_rows<E: Float>(
        &self,
        x: &CpuStorage<E>,
        x_layout: &Layout,
        weight: Option<(&CpuStorage<E>, &Layout)>,
        bias: Option<(&CpuStorage<E>, &Layout)>,
        eps: f64,
    ) -> Option<Result<(CpuStorage<E>, CpuStorage<E>, CpuStorage<E>)>> {
        let parts = [Some((x, x_layout)), weight, bias];
        if let Err(e) = fits_all("layer_norm", parts.iter().flatten().copied()) {
            return Some(Err(e));
        }
        let (weight, bias) = (weight.map(as_slice), bias.map(as_slice));
        kernels::layer_norm_rows((x.as_slice(), x_layout), weight, bias, eps).map(Ok)
    }

    #[allow(clippy::type_complexity)] // (dx, dw, db), as the trait says
    fn layer_norm_rows_backward<E: Float>(
        &self,
        x: (&CpuStorage<E>, &Layout),
        g: (&CpuStorage<E>, &Layout),
        mean: (&CpuStorage<E>, &Layout),
        rstd: (&CpuStorage<E>, &Layout),
        weight: Option<(&CpuStorage<E>, &Layout)>,
    ) -> Option<Result<(CpuStorage<E>, CpuStorage<E>, CpuStorage<E>)>> {
        let parts = [Some(x), Some(g), Some(mean), Some(rstd), weight];
        if let Err(e) = fits_all("layer_norm", parts.iter().flatten().copied()) {
            return Some(Err(e));
        }
        kernels::layer_norm_rows_backward(
            as_slice(x),
            as_slice(g),
            as_slice(mean),
            as_slice(rstd),
            weight.map(as_slice),
        )
        .map(Ok)
    }

    #[allow(clippy::type_complexity)] // (loss, lse), as the trait says
    fn cross_entropy_rows<E: Float>(
        &self,
        x: &CpuStorage<E>,
        x_layout: &Layout,
        target: &CpuStorage<i64>,
        target_layout: &Layout,
        ignore_index: i64,
    ) -> Option<Result<(CpuStorage<E>, CpuStorage<E>)>> {
        let fits = check_fits("cross_entropy", x_layout, x.len())
            .and_then(|()| check_fits("cross_entropy", target_layout, target.len()));
        if let Err(e) = fits {
            return Some(Err(e));
        }
        kernels::cross_entropy_rows(
            x.as_slice(),
            x_layout,
            target.as_slice(),
            target_layout,
            ignore_index,
        )
    }

    fn cross_entropy_rows_backward<E: Float>(
        &self,
        x: &CpuStorage<E>,
        x_layout: &Layout,
        lse: &CpuStorage<E>,
        lse_layout: &Layout,
        target: &CpuStorage<i64>,
        target_layout: &Layout,
        grad: &CpuStorage<E>,
        grad_layout: &Layout,
        ignore_index: i64,
    ) -> Option<Result<CpuStorage<E>>> {
        let op = "cross_entropy backward";
        let fits = check_fits(op, x_layout, x.len())
            .and_then(|()| check_fits(op, lse_layout, lse.len()))
            .and_then(|()| check_fits(op, target_layout, target.len()))
            .and_then(|()| check_fits(op, grad_layout, grad.len()));
        if let Err(e) = fits {
            return Some(Err(e));
        }
        kernels::cross_entropy_rows_backward(
            x.as_slice(),
            x_layout,
            lse.as_slice(),
            lse_layout,
            target.as_slice(),
            target_layout,
            grad.as_slice(),
            grad_layout,
            ignore_index,
        )
    }

    fn arg_reduce<E: Element>(
        &self,
        op: ArgReduceOp,
        x: &CpuStorage<E>,
        layout: &Layout,
        axis: usize,
    ) -> Result<CpuStorage<i64>> {
        check_fits(op.name(), layout, x.len())?;
        checks::arg_reduce_axis(op.name(), layout, axis)?;
        Ok(kernels::arg_reduce(op, x.as_slice(), layout, axis))
    }

    fn matmul<E: Float>(
        &self,
        lhs: &CpuStorage<E>,
        lhs_layout: &Layout,
        rhs: &CpuStorage<E>,
        rhs_layout: &Layout,
    ) -> Result<CpuStorage<E>> {
        fits_all("matmul", [(lhs, lhs_layout), (rhs, rhs_layout)])?;
        checks::matmul(lhs_layout, rhs_layout)?;
        gemm::matmul(lhs.as_slice(), lhs_layout, rhs.as_slice(), rhs_layout, None)
    }

    fn matmul_add<E: Float>(
        &self,
        lhs: (&CpuStorage<E>, &Layout),
        rhs: (&CpuStorage<E>, &Layout),
        addend: (&CpuStorage<E>, &Layout),
    ) -> Option<Result<CpuStorage<E>>> {
        let run = || {
            fits_all("matmul_add", [lhs, rhs, addend])?;
            checks::matmul_add(lhs.1, rhs.1, addend.1)?;
            let ((a, la), (b, lb)) = (as_slice(lhs), as_slice(rhs));
            gemm::matmul(a, la, b, lb, Some(as_slice(addend)))
        };
        Some(run())
    }

    fn gather<E: Element>(
        &self,
        src: &CpuStorage<E>,
        src_layout: &Layout,
        index: &CpuStorage<i64>,
        index_layout: &Layout,
        axis: usize,
    ) -> Result<CpuStorage<E>> {
        check_fits("gather", src_layout, src.len())?;
        check_fits("gather", index_layout, index.len())?;
        checks::gather(src_layout, index_layout, axis)?;
        kernels::gather(
            src.as_slice(),
            src_layout,
            index.as_slice(),
            index_layout,
            axis,
        )
    }

    fn scatter_add<E: Element>(
        &self,
        dst: &mut CpuStorage<E>,
        dst_layout: &Layout,
        index: &CpuStorage<i64>,
        index_layout: &Layout,
        src: &CpuStorage<E>,
        src_layout: &Layout,
        axis: usize,
    ) -> Result<()> {
        check_fits("scatter_add", dst_layout, dst.len())?;
        check_fits("scatter_add", index_layout, index.len())?;
        check_fits("scatter_add", src_layout, src.len())?;
        checks::scatter_add(dst_layout, index_layout, src_layout, axis)?;
        kernels::scatter_add(
            dst.as_mut_slice(),
            dst_layout,
            index.as_slice(),
            index_layout,
            src.as_slice(),
            src_layout,
            axis,
        )
    }

    fn index_select<E: Element>(
        &self,
        src: &CpuStorage<E>,
        src_layout: &Layout,
        index: &CpuStorage<i64>,
        index_layout: &Layout,
        axis: usize,
    ) -> Result<CpuStorage<E>> {
        check_fits("index_select", src_layout, src.len())?;
        check_fits("index_select", index_layout, index.len())?;
        checks::index_select(src_layout, index_layout, axis)?;
        kernels::index_select(
            src.as_slice(),
            src_layout,
            index.as_slice(),
            index_layout,
            axis,
        )
    }

    fn im2col<E: Float>(
        &self,
        x: &CpuStorage<E>,
        layout: &Layout,
        window: &Window2d,
    ) -> Result<CpuStorage<E>> {
        checked_im2col(x, layout, window, ColumnOrder::BatchOuter)
    }

    fn im2col_tap_major<E: Float>(
        &self,
        x: &CpuStorage<E>,
        layout: &Layout,
        window: &Window2d,
    ) -> Option<Result<CpuStorage<E>>> {
        Some(checked_im2col(x, layout, window, ColumnOrder::TapMajor))
    }

    fn window_argmax<E: Float>(
        &self,
        x: &CpuStorage<E>,
        layout: &Layout,
        slots: &[i64],
        fallback: &[i64],
    ) -> Option<Result<CpuStorage<i64>>> {
        // The kernel reads plain planes; a strided view takes the composed path.
        if !layout.is_contiguous() || layout.dims().len() != 2 {
            return None;
        }
        if let Err(e) = check_fits("window_argmax", layout, x.len()) {
            return Some(Err(e));
        }
        let plane = layout.dims()[1] as i64;
        if slots
            .iter()
            .chain(fallback)
            .any(|s| !(0..=plane).contains(s))
        {
            return Some(Err(nanotorch_ndarray_core::Error::msg(format!(
                "window_argmax: a slot lies outside 0..={plane}"
            ))));
        }
        let x = &x.as_slice()[layout.offset()..layout.offset() + layout.numel()];
        Some(Ok(kernels::window_argmax(
            x,
            layout.dims()[1],
            slots,
            fallback,
        )))
    }

    fn fused_step<E: Float>(
        &self,
        step: &FusedStep<E>,
        (param, param_range): (&mut CpuStorage<E>, Range<usize>),
        (grad, grad_range): (&CpuStorage<E>, Range<usize>),
        state: &mut [(&mut CpuStorage<E>, Range<usize>)],
    ) -> Result<bool> {
        let fits = |len: usize, r: &Range<usize>| r.start <= r.end && r.end <= len;
        if !fits(param.len(), &param_range)
            || !fits(grad.len(), &grad_range)
            || state.iter().any(|(s, r)| !fits(s.len(), r))
        {
            return Err(nanotorch_ndarray_core::Error::msg(format!(
                "{} fused step: a range lies outside its storage",
                step.name()
            )));
        }
        let count = state.len().min(3);
        let mut slices: [&mut [E]; 3] = [&mut [], &mut [], &mut []];
        for (slot, (s, r)) in slices.iter_mut().zip(state.iter_mut()) {
            *slot = &mut s.as_mut_slice()[r.clone()];
        }
        kernels::fused_step(
            step,
            &mut param.as_mut_slice()[param_range],
            &grad.as_slice()[grad_range],
            &mut slices[..count],
        )?;
        Ok(true)
    }

    fn abs_pow_sum<E: Float>(
        &self,
        x: &CpuStorage<E>,
        layout: &Layout,
        p: f64,
    ) -> Option<Result<f64>> {
        let range = layout.contiguous_range()?;
        let x = x.as_slice().get(range)?;
        Some(Ok(kernels::abs_pow_sum(x, p)))
    }

    fn col2im<E: Float>(
        &self,
        cols: &CpuStorage<E>,
        cols_layout: &Layout,
        channels: usize,
        image_hw: (usize, usize),
        window: &Window2d,
    ) -> Result<CpuStorage<E>> {
        check_fits("col2im", cols_layout, cols.len())?;
        let geometry = checks::col2im(cols_layout, channels, image_hw, window)?;
        Ok(kernels::col2im(
            cols.as_slice(),
            cols_layout,
            window,
            &geometry,
        ))
    }
}

/// An operand as a kernel takes it.
fn as_slice<'a, E: Element>((s, l): (&'a CpuStorage<E>, &'a Layout)) -> (&'a [E], &'a Layout) {
    (s.as_slice(), l)
}

/// `check_fits` for each operand of a kernel that takes several.
fn fits_all<'a, E: Element + 'a>(
    op: &'static str,
    parts: impl IntoIterator<Item = (&'a CpuStorage<E>, &'a Layout)>,
) -> Result<()> {
    parts
        .into_iter()
        .try_for_each(|(s, l)| check_fits(op, l, s.len()))
}

/// im2col's columns in `order`, after the checks both `Backend` methods share.
fn checked_im2col<E: Float>(
    x: &CpuStorage<E>,
    layout: &Layout,
    window: &Window2d,
    order: ColumnOrder,
) -> Result<CpuStorage<E>> {
    check_fits("im2col", layout, x.len())?;
    let geometry = checks::im2col(layout, window)?;
    Ok(kernels::im2col(
        x.as_slice(),
        layout,
        window,
        &geometry,
        order,
    ))
}
