//! Batched matrix product (`kernels/matmul.cu`): a 16×16 tiled shared-memory kernel that reads
//! both operands through their strides (a transposed or broadcast operand needs no copy).

use super::suffix;
use crate::launch::Launch;
use crate::{Cuda, CudaStorage, Error, Result, BACKEND_NAME};
use nanotorch_ndarray_core::checks;
use nanotorch_ndarray_core::{Float, Layout, Shape};

/// Output tile edge (threads per block side); must match `TILE` in matmul.cu.
const TILE: usize = 16;

/// `[b, m, k] @ [b, k, n]` into a contiguous `[b, m, n]`. Several batch axes (see
/// `Backend::matmul`) are merged into one where the strides allow, else that operand is copied
/// contiguous first: the kernel walks one batch stride.
pub(crate) fn matmul<E: Float>(
    dev: &Cuda,
    (lhs, ll): (&CudaStorage<E>, &Layout),
    (rhs, rl): (&CudaStorage<E>, &Layout),
) -> Result<CudaStorage<E>> {
    checks::fits("matmul", ll, lhs.len())?;
    checks::fits("matmul", rl, rhs.len())?;
    let (batch, m, k, n) = checks::matmul(ll, rl)?;
    if ll.rank() > 3 {
        let (lhs_copy, ll) = one_batch_axis(dev, lhs, ll, [batch, m, k])?;
        let (rhs_copy, rl) = one_batch_axis(dev, rhs, rl, [batch, k, n])?;
        let (lhs, rhs) = (
            lhs_copy.as_ref().unwrap_or(lhs),
            rhs_copy.as_ref().unwrap_or(rhs),
        );
        return matmul(dev, (lhs, &ll), (rhs, &rl));
    }
    let (gx, gy) = (n.div_ceil(TILE), m.div_ceil(TILE));
    if gy > 65_535 || gx > i32::MAX as usize {
        // A device limit, not a shape error: the same product runs on the CPU.
        return Err(Error::Backend {
            backend: BACKEND_NAME,
            msg: format!("matmul: a {m}x{n} output is too large for one launch"),
        });
    }
    let out = dev.alloc::<E>(batch * m * n)?;
    if batch * m * n == 0 {
        return Ok(out);
    }
    if k == 0 {
        // An empty inner dimension: the product is all zeros.
        super::copy::fill(dev, &out, E::ZERO)?;
        return Ok(out);
    }
    let (ls, rs) = (ll.strides(), rl.strides());
    Launch::new(
        dev,
        &dev.inner.matmul,
        format!("matmul_{}", suffix(E::DTYPE)),
    )
    .ptr(lhs)
    .len(ll.offset())
    .len(ls[0])
    .len(ls[1])
    .len(ls[2])
    .ptr(rhs)
    .len(rl.offset())
    .len(rs[0])
    .len(rs[1])
    .len(rs[2])
    .ptr(&out)
    .len(batch)
    .len(m)
    .len(k)
    .len(n)
    // The kernel loops over batches beyond the grid's z limit.
    .shape(
        (gx as u32, gy as u32, batch.min(65_535) as u32),
        (TILE as u32, TILE as u32, 1),
    )
    .run()?;
    Ok(out)
}

/// An operand's layout with its batch axes merged into one (`to`), and a contiguous copy of it
/// when its strides do not allow that (`None`: read the operand where it is).
fn one_batch_axis<E: Float>(
    dev: &Cuda,
    x: &CudaStorage<E>,
    layout: &Layout,
    to: [usize; 3],
) -> Result<(Option<CudaStorage<E>>, Layout)> {
    let to = Shape::from(to);
    match layout.reshape("matmul", &to) {
        Ok(merged) => Ok((None, merged)),
        Err(_) => Ok((
            Some(super::copy::copy_strided(dev, x, layout)?),
            Layout::contiguous(to),
        )),
    }
}
