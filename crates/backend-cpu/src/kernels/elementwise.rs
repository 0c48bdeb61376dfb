//! Element-wise ops. The op tables in ndarray-core hand each op's kernel type to a visitor
//! (`UnaryOp::dispatch`), so the match on the op happens once, outside the loop, and each loop
//! body is one inlined function the compiler can vectorise.

use super::map::{map1, map1_with, map2, update, Kernel};
use crate::parallel::{par_chunks, Rows};
use crate::storage::CpuStorage;
use nanotorch_ndarray_core::{
    BinaryKernel, BinaryOp, BinaryVisitor, Element, Float, Layout, ScalarSide, UnaryKernel,
    UnaryOp, UnaryVisitor,
};
use std::marker::PhantomData;

/// A transcendental function costs ~15-20x a memory-bound add per element (measured: exp 2.7 ns
/// vs add 0.15 ns per f32 element on one core), so it is worth threads at a 16x smaller size.
/// The op tables give each op its cost; random fills use this one.
pub(crate) const TRANSCENDENTAL_COST: usize = 16;

pub(crate) fn unary<E: Float>(op: UnaryOp, x: &[E], layout: &Layout) -> CpuStorage<E> {
    struct Map<'a, E>(&'a [E], &'a Layout);
    impl<E: Float> UnaryVisitor for Map<'_, E> {
        type Output = CpuStorage<E>;
        fn visit<K: UnaryKernel>(self) -> CpuStorage<E> {
            map1_with(self.0, self.1, K::OP.cost(), Kernel::<K>(PhantomData))
        }
    }
    op.dispatch(Map(x, layout))
}

/// A loop over a binary kernel `f` (with the op's per-element cost), run by [`with_binary`].
trait BinaryLoop<E> {
    type Output;
    fn run(self, f: impl Fn(E, E) -> E + Sync + Send + Copy, cost: usize) -> Self::Output;
}

/// Runs `body` with `op`'s kernel for `E`, monomorphised per op.
fn with_binary<E: Element, L: BinaryLoop<E>>(op: BinaryOp, body: L) -> L::Output {
    struct Visit<E, L>(L, PhantomData<E>);
    impl<E: Element, L: BinaryLoop<E>> BinaryVisitor for Visit<E, L> {
        type Output = L::Output;
        fn visit<K: BinaryKernel>(self) -> L::Output {
            self.0.run(K::apply::<E>, K::OP.cost())
        }
    }
    op.dispatch(Visit(body, PhantomData))
}

pub(crate) fn binary<E: Element>(
    op: BinaryOp,
    a: &[E],
    la: &Layout,
    b: &[E],
    lb: &Layout,
) -> CpuStorage<E> {
    struct Two<'a, E>([&'a [E]; 2], [&'a Layout; 2]);
    impl<E: Element> BinaryLoop<E> for Two<'_, E> {
        type Output = CpuStorage<E>;
        fn run(self, f: impl Fn(E, E) -> E + Sync + Send + Copy, cost: usize) -> CpuStorage<E> {
            let Two([a, b], [la, lb]) = self;
            map2(a, la, b, lb, cost, f)
        }
    }
    with_binary(op, Two([a, b], [la, lb]))
}

pub(crate) fn binary_scalar<E: Element>(
    op: BinaryOp,
    x: &[E],
    layout: &Layout,
    s: E,
    side: ScalarSide,
) -> CpuStorage<E> {
    struct WithScalar<'a, E>(&'a [E], &'a Layout, E, ScalarSide);
    impl<E: Element> BinaryLoop<E> for WithScalar<'_, E> {
        type Output = CpuStorage<E>;
        fn run(self, f: impl Fn(E, E) -> E + Sync + Send + Copy, cost: usize) -> CpuStorage<E> {
            let WithScalar(x, layout, s, side) = self;
            match side {
                ScalarSide::Right => map1(x, layout, cost, move |a| f(a, s)),
                ScalarSide::Left => map1(x, layout, cost, move |a| f(s, a)),
            }
        }
    }
    with_binary(op, WithScalar(x, layout, s, side))
}

pub(crate) fn binary_inplace<E: Element>(
    op: BinaryOp,
    dst: &mut [E],
    dl: &Layout,
    rhs: &[E],
    rl: &Layout,
) {
    struct Update<'a, E>(&'a mut [E], &'a Layout, &'a [E], &'a Layout);
    impl<E: Element> BinaryLoop<E> for Update<'_, E> {
        type Output = ();
        fn run(self, f: impl Fn(E, E) -> E + Sync + Send + Copy, _cost: usize) {
            let Update(dst, dl, rhs, rl) = self;
            update(dst, dl, rhs, rl, f)
        }
    }
    with_binary(op, Update(dst, dl, rhs, rl))
}

pub(crate) fn scalar_inplace<E: Element>(op: BinaryOp, dst: &mut [E], dl: &Layout, s: E) {
    struct UpdateScalar<'a, E>(&'a mut [E], &'a Layout, E);
    impl<E: Element> BinaryLoop<E> for UpdateScalar<'_, E> {
        type Output = ();
        fn run(self, f: impl Fn(E, E) -> E + Sync + Send + Copy, _cost: usize) {
            let UpdateScalar(dst, dl, s) = self;
            if let Some(r) = dl.contiguous_range() {
                let d = &mut dst[r];
                let n = d.len();
                par_chunks(d, 1, n, |_, chunk| {
                    for o in chunk.iter_mut() {
                        *o = f(*o, s);
                    }
                });
                return;
            }
            // The scalar as a 0-d array broadcast to the destination's shape (stride 0
            // everywhere).
            let src = [s];
            let sl = Layout::new(dl.shape().clone(), vec![0; dl.rank()], 0);
            update(dst, dl, &src, &sl, f)
        }
    }
    with_binary(op, UpdateScalar(dst, dl, s))
}

pub(crate) fn where_cond<E: Element>(x: [&[E]; 3], l: [&Layout; 3]) -> CpuStorage<E> {
    let pick = |c: E, t: E, f: E| if c != E::ZERO { t } else { f };
    let n = l[0].numel();
    if let (Some(r0), Some(r1), Some(r2)) = (
        l[0].contiguous_range(),
        l[1].contiguous_range(),
        l[2].contiguous_range(),
    ) {
        let (c, t, f) = (&x[0][r0], &x[1][r1], &x[2][r2]);
        return CpuStorage::build(n, |out| {
            par_chunks(out, 1, n, |start, chunk| {
                for (i, o) in chunk.iter_mut().enumerate() {
                    let k = start + i;
                    o.write(pick(c[k], t[k], f[k]));
                }
            })
        });
    }
    let rows = Rows::new(l);
    let s = rows.inner_strides;
    CpuStorage::build(n, |out| {
        rows.for_each_out(out, 1, |b, row| {
            for (j, o) in row.iter_mut().enumerate() {
                o.write(pick(
                    x[0][b[0] + j * s[0]],
                    x[1][b[1] + j * s[1]],
                    x[2][b[2] + j * s[2]],
                ));
            }
        })
    })
}
