//! `impl Backend for Cuda`: each primitive hands its operands to its op family in `ops/`.
//!
//! Every primitive runs on the device (no silent host fallback), checks its preconditions
//! through `nanotorch_ndarray_core::checks` (so a mistake gives the same error as on the CPU),
//! and queues its kernels on the device's stream without waiting; only `to_vec`, the index
//! check of the index ops and `synchronize` wait for the GPU. Driver errors become
//! [`crate::Error::Backend`]; nothing panics.

use crate::ops::{copy, elementwise, index, matmul, random, reduce, window};
use crate::{Cuda, CudaStorage, Result};
use nanotorch_ndarray_core::{
    ArgReduceOp, Backend, BinaryOp, Element, Float, Layout, RandomDist, ReduceOp, ScalarSide,
    UnaryOp, Window2d,
};

impl Backend for Cuda {
    type Storage<E: Element> = CudaStorage<E>;

    fn name(&self) -> String {
        format!("cuda:{}", self.ordinal)
    }

    fn same_device(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.inner, &other.inner)
    }

    fn storage_len<E: Element>(&self, storage: &CudaStorage<E>) -> usize {
        storage.len()
    }

    fn from_slice<E: Element>(&self, data: &[E]) -> Result<CudaStorage<E>> {
        self.upload(data)
    }

    fn to_vec<E: Element>(&self, storage: &CudaStorage<E>, layout: &Layout) -> Result<Vec<E>> {
        copy::to_vec(self, storage, layout)
    }

    fn full<E: Element>(&self, len: usize, value: E) -> Result<CudaStorage<E>> {
        copy::full(self, len, value)
    }

    fn arange<E: Element>(&self, start: f64, step: f64, len: usize) -> Result<CudaStorage<E>> {
        copy::arange(self, start, step, len)
    }

    fn random<E: Float>(&self, len: usize, dist: RandomDist, seed: u64) -> Result<CudaStorage<E>> {
        random::random(self, len, dist, seed)
    }

    fn copy_strided<E: Element>(
        &self,
        src: &CudaStorage<E>,
        layout: &Layout,
    ) -> Result<CudaStorage<E>> {
        copy::copy_strided(self, src, layout)
    }

    fn assign<E: Element>(
        &self,
        dst: &mut CudaStorage<E>,
        dst_layout: &Layout,
        src: &CudaStorage<E>,
        src_layout: &Layout,
    ) -> Result<()> {
        copy::assign(self, (dst, dst_layout), (src, src_layout))
    }

    fn cast<E: Element, T: Element>(
        &self,
        src: &CudaStorage<E>,
        layout: &Layout,
    ) -> Result<CudaStorage<T>> {
        copy::cast(self, src, layout)
    }

    fn unary<E: Float>(
        &self,
        op: UnaryOp,
        x: &CudaStorage<E>,
        layout: &Layout,
    ) -> Result<CudaStorage<E>> {
        elementwise::unary(self, op, x, layout)
    }

    fn binary<E: Element>(
        &self,
        op: BinaryOp,
        lhs: &CudaStorage<E>,
        lhs_layout: &Layout,
        rhs: &CudaStorage<E>,
        rhs_layout: &Layout,
    ) -> Result<CudaStorage<E>> {
        elementwise::binary(self, op, (lhs, lhs_layout), (rhs, rhs_layout))
    }

    fn binary_scalar<E: Element>(
        &self,
        op: BinaryOp,
        x: &CudaStorage<E>,
        layout: &Layout,
        scalar: E,
        side: ScalarSide,
    ) -> Result<CudaStorage<E>> {
        elementwise::binary_scalar(self, op, (x, layout), scalar, side)
    }

    fn binary_inplace<E: Element>(
        &self,
        op: BinaryOp,
        dst: &mut CudaStorage<E>,
        dst_layout: &Layout,
        rhs: &CudaStorage<E>,
        rhs_layout: &Layout,
    ) -> Result<()> {
        elementwise::binary_inplace(self, op, (dst, dst_layout), (rhs, rhs_layout))
    }

    fn scalar_inplace<E: Element>(
        &self,
        op: BinaryOp,
        dst: &mut CudaStorage<E>,
        dst_layout: &Layout,
        scalar: E,
    ) -> Result<()> {
        elementwise::scalar_inplace(self, op, (dst, dst_layout), scalar)
    }

    fn axpby_inplace<E: Float>(
        &self,
        dst: &mut CudaStorage<E>,
        dst_layout: &Layout,
        alpha: E,
        x: &CudaStorage<E>,
        x_layout: &Layout,
        beta: E,
    ) -> Result<()> {
        elementwise::axpby_inplace(self, (dst, dst_layout), alpha, (x, x_layout), beta)
    }

    fn where_cond<E: Element>(
        &self,
        cond: &CudaStorage<E>,
        cond_layout: &Layout,
        on_true: &CudaStorage<E>,
        true_layout: &Layout,
        on_false: &CudaStorage<E>,
        false_layout: &Layout,
    ) -> Result<CudaStorage<E>> {
        elementwise::where_cond(
            self,
            (cond, cond_layout),
            (on_true, true_layout),
            (on_false, false_layout),
        )
    }

    fn reduce<E: Element>(
        &self,
        op: ReduceOp,
        x: &CudaStorage<E>,
        layout: &Layout,
        axes: &[usize],
    ) -> Result<CudaStorage<E>> {
        reduce::reduce(self, op, x, layout, axes)
    }

    fn arg_reduce<E: Element>(
        &self,
        op: ArgReduceOp,
        x: &CudaStorage<E>,
        layout: &Layout,
        axis: usize,
    ) -> Result<CudaStorage<i64>> {
        reduce::arg_reduce(self, op, x, layout, axis)
    }

    fn matmul<E: Float>(
        &self,
        lhs: &CudaStorage<E>,
        lhs_layout: &Layout,
        rhs: &CudaStorage<E>,
        rhs_layout: &Layout,
    ) -> Result<CudaStorage<E>> {
        matmul::matmul(self, (lhs, lhs_layout), (rhs, rhs_layout))
    }

    fn gather<E: Element>(
        &self,
        src: &CudaStorage<E>,
        src_layout: &Layout,
        index: &CudaStorage<i64>,
        index_layout: &Layout,
        axis: usize,
    ) -> Result<CudaStorage<E>> {
        index::gather(self, (src, src_layout), (index, index_layout), axis)
    }

    fn scatter_add<E: Element>(
        &self,
        dst: &mut CudaStorage<E>,
        dst_layout: &Layout,
        index: &CudaStorage<i64>,
        index_layout: &Layout,
        src: &CudaStorage<E>,
        src_layout: &Layout,
        axis: usize,
    ) -> Result<()> {
        index::scatter_add(
            self,
            (dst, dst_layout),
            (index, index_layout),
            (src, src_layout),
            axis,
        )
    }

    fn index_select<E: Element>(
        &self,
        src: &CudaStorage<E>,
        src_layout: &Layout,
        index: &CudaStorage<i64>,
        index_layout: &Layout,
        axis: usize,
    ) -> Result<CudaStorage<E>> {
        index::index_select(self, (src, src_layout), (index, index_layout), axis)
    }

    fn im2col<E: Float>(
        &self,
        x: &CudaStorage<E>,
        layout: &Layout,
        window: &Window2d,
    ) -> Result<CudaStorage<E>> {
        window::im2col(self, x, layout, window)
    }

    fn col2im<E: Float>(
        &self,
        cols: &CudaStorage<E>,
        cols_layout: &Layout,
        channels: usize,
        image_hw: (usize, usize),
        window: &Window2d,
    ) -> Result<CudaStorage<E>> {
        window::col2im(self, (cols, cols_layout), channels, image_hw, window)
    }

    fn synchronize(&self) -> Result<()> {
        Cuda::synchronize(self)
    }
}
