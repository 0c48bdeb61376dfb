//! Element-wise kernels (`kernels/unary.cu`, `kernels/binary.cu`): unary maps, binary maps in
//! their array, scalar and in-place forms, and `where`. Kernels are found by name,
//! `unary_<op>_<dt>`, `binary_<op>_<dt>`, `binary_scalar_<op>_<dt>`, `binary_inplace_<op>_<dt>`,
//! `scalar_inplace_<op>_<dt>`, `where_<dt>`, with `<op>` the op's `name()`: adding an op to the
//! table in ndarray-core (and its device instantiation) needs no change here.

use super::{map_view, suffix};
use crate::launch::Launch;
use crate::{Cuda, CudaStorage, Result};
use nanotorch_ndarray_core::checks;
use nanotorch_ndarray_core::{BinaryOp, Element, Float, Layout, ScalarSide, UnaryOp};

/// `op(x)` per element.
pub(crate) fn unary<E: Float>(
    dev: &Cuda,
    op: UnaryOp,
    x: &CudaStorage<E>,
    layout: &Layout,
) -> Result<CudaStorage<E>> {
    let name = format!("unary_{}_{}", op.name(), suffix(E::DTYPE));
    map_view(dev, (&dev.inner.unary, name, op.name()), x, layout, |l| {
        l.flag(layout.is_contiguous())
    })
}

/// `op(lhs, rhs)` per element.
pub(crate) fn binary<E: Element>(
    dev: &Cuda,
    op: BinaryOp,
    (lhs, ll): (&CudaStorage<E>, &Layout),
    (rhs, rl): (&CudaStorage<E>, &Layout),
) -> Result<CudaStorage<E>> {
    checks::fits(op.name(), ll, lhs.len())?;
    checks::fits(op.name(), rl, rhs.len())?;
    checks::same_shape(op.name(), ll, rl)?;
    let n = ll.numel();
    let out = dev.alloc::<E>(n)?;
    if n > 0 {
        let name = format!("binary_{}_{}", op.name(), suffix(E::DTYPE));
        Launch::new(dev, &dev.inner.binary, name)
            .ptr(lhs)
            .ptr(rhs)
            .ptr(&out)
            .len(n)
            .rank(ll)
            .view(ll)?
            .view(rl)?
            .items(n)
            .run()?;
    }
    Ok(out)
}

/// `op(x, scalar)` (or `op(scalar, x)`) per element.
pub(crate) fn binary_scalar<E: Element>(
    dev: &Cuda,
    op: BinaryOp,
    (x, layout): (&CudaStorage<E>, &Layout),
    scalar: E,
    side: ScalarSide,
) -> Result<CudaStorage<E>> {
    checks::fits(op.name(), layout, x.len())?;
    let n = layout.numel();
    let out = dev.alloc::<E>(n)?;
    if n > 0 {
        let name = format!("binary_scalar_{}_{}", op.name(), suffix(E::DTYPE));
        Launch::new(dev, &dev.inner.binary, name)
            .ptr(x)
            .ptr(&out)
            .len(n)
            .rank(layout)
            .view(layout)?
            .scalar(scalar)
            .flag(matches!(side, ScalarSide::Left))
            .items(n)
            .run()?;
    }
    Ok(out)
}

/// In place: `dst = op(dst, rhs)`.
pub(crate) fn binary_inplace<E: Element>(
    dev: &Cuda,
    op: BinaryOp,
    (dst, dl): (&mut CudaStorage<E>, &Layout),
    (rhs, rl): (&CudaStorage<E>, &Layout),
) -> Result<()> {
    checks::fits(op.name(), dl, dst.len())?;
    checks::writable(op.name(), dl)?;
    checks::fits(op.name(), rl, rhs.len())?;
    checks::same_shape(op.name(), dl, rl)?;
    let n = dl.numel();
    if n == 0 {
        return Ok(());
    }
    let name = format!("binary_inplace_{}_{}", op.name(), suffix(E::DTYPE));
    Launch::new(dev, &dev.inner.binary, name)
        .ptr(dst)
        .len(n)
        .rank(dl)
        .view(dl)?
        .ptr(rhs)
        .view(rl)?
        .items(n)
        .run()
}

/// In place: `dst = op(dst, scalar)`.
pub(crate) fn scalar_inplace<E: Element>(
    dev: &Cuda,
    op: BinaryOp,
    (dst, dl): (&mut CudaStorage<E>, &Layout),
    scalar: E,
) -> Result<()> {
    checks::fits(op.name(), dl, dst.len())?;
    checks::writable(op.name(), dl)?;
    let n = dl.numel();
    if n == 0 {
        return Ok(());
    }
    let name = format!("scalar_inplace_{}_{}", op.name(), suffix(E::DTYPE));
    Launch::new(dev, &dev.inner.binary, name)
        .ptr(dst)
        .len(n)
        .rank(dl)
        .view(dl)?
        .scalar(scalar)
        .items(n)
        .run()
}

/// `cond != 0 ? on_true : on_false` per element.
pub(crate) fn where_cond<E: Element>(
    dev: &Cuda,
    (cond, cl): (&CudaStorage<E>, &Layout),
    (on_true, tl): (&CudaStorage<E>, &Layout),
    (on_false, fl): (&CudaStorage<E>, &Layout),
) -> Result<CudaStorage<E>> {
    checks::fits("where", cl, cond.len())?;
    checks::fits("where", tl, on_true.len())?;
    checks::fits("where", fl, on_false.len())?;
    checks::same_shape("where", cl, tl)?;
    checks::same_shape("where", cl, fl)?;
    let n = cl.numel();
    let out = dev.alloc::<E>(n)?;
    if n > 0 {
        let name = format!("where_{}", suffix(E::DTYPE));
        Launch::new(dev, &dev.inner.binary, name)
            .ptr(cond)
            .ptr(on_true)
            .ptr(on_false)
            .ptr(&out)
            .len(n)
            .rank(cl)
            .view(cl)?
            .view(tl)?
            .view(fl)?
            .items(n)
            .run()?;
    }
    Ok(out)
}

/// In place: `dst = alpha·dst + beta·x`, checked as one op (`axpby`) and composed from the
/// scalar and in-place kernels (the trait's reference form; no fused kernel yet).
pub(crate) fn axpby_inplace<E: Float>(
    dev: &Cuda,
    (dst, dl): (&mut CudaStorage<E>, &Layout),
    alpha: E,
    (x, xl): (&CudaStorage<E>, &Layout),
    beta: E,
) -> Result<()> {
    checks::fits("axpby", dl, dst.len())?;
    checks::writable("axpby", dl)?;
    checks::fits("axpby", xl, x.len())?;
    checks::same_shape("axpby", dl, xl)?;
    if alpha != E::ONE {
        scalar_inplace(dev, BinaryOp::Mul, (&mut *dst, dl), alpha)?;
    }
    let scaled = binary_scalar(dev, BinaryOp::Mul, (x, xl), beta, ScalarSide::Right)?;
    let contiguous = Layout::contiguous(xl.shape().clone());
    binary_inplace(dev, BinaryOp::Add, (dst, dl), (&scaled, &contiguous))
}
