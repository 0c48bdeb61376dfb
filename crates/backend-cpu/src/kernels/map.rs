//! Generators and maps: the loops every element-wise kernel runs, with a contiguous fast path
//! (compiled again for AVX2 and AVX-512, picked at run time) and a strided path over rows.

use super::isa::{run_loop, Isa, Loop};
use crate::parallel::{coalesce, par_chunks, Rows};
use crate::storage::CpuStorage;
use nanotorch_ndarray_core::op::math::GROUP;
use nanotorch_ndarray_core::{Element, Float, Layout, UnaryKernel};
use std::mem::MaybeUninit;

/// Output element `i` is `f(i)`.
pub(crate) fn generate<E: Element>(
    len: usize,
    cost: usize,
    f: impl Fn(usize) -> E + Sync,
) -> CpuStorage<E> {
    CpuStorage::build(len, |out| {
        par_chunks(out, 1, len * cost, |start, chunk| {
            for (i, o) in chunk.iter_mut().enumerate() {
                o.write(f(start + i));
            }
        })
    })
}

/// `f` over a contiguous slice.
pub(crate) fn map_contiguous<E: Element, T: Element>(
    x: &[E],
    cost: usize,
    f: impl Fn(E) -> T + Sync,
) -> CpuStorage<T> {
    map_contiguous_with(x, cost, Closure(f))
}

/// An element function for the loops below. Where a closure or a function item goes through
/// `Fn::call`, LLVM may leave that call out of line once the body is large (a GELU is ~40
/// instructions) — and out of line it is compiled without FMA, so every `mul_add` becomes a
/// libm call (measured: 80 ms instead of 0.5 ms on 1M f32). [`Kernel`] calls the op's
/// `#[inline(always)]` kernel directly, so it is always inlined into the loop.
pub(crate) trait Map1<E, T>: Sync {
    /// The function on one element.
    fn apply(&self, x: E) -> T;

    /// Whether [`Map1::apply_group`] should run on whole groups (`UnaryKernel::groups`).
    #[inline(always)]
    fn groups(&self) -> bool {
        false
    }

    /// The function on [`GROUP`] elements, into `out` (as long): the same values as `apply` on
    /// each.
    #[inline(always)]
    fn apply_group(&self, x: &[E; GROUP], out: &mut [MaybeUninit<T>])
    where
        E: Copy,
    {
        for (o, &x) in out.iter_mut().zip(x) {
            o.write(self.apply(x));
        }
    }
}

/// A closure as a [`Map1`] (small closures: casts, scalar operands).
pub(crate) struct Closure<F>(pub F);

impl<E, T, F: Fn(E) -> T + Sync> Map1<E, T> for Closure<F> {
    #[inline(always)]
    fn apply(&self, x: E) -> T {
        (self.0)(x)
    }
}

/// A unary op's kernel as a [`Map1`].
pub(crate) struct Kernel<K>(pub std::marker::PhantomData<fn() -> K>);

impl<E: Float, K: UnaryKernel> Map1<E, E> for Kernel<K> {
    #[inline(always)]
    fn apply(&self, x: E) -> E {
        K::apply(x)
    }

    #[inline(always)]
    fn groups(&self) -> bool {
        K::groups::<E>()
    }

    #[inline(always)]
    fn apply_group(&self, x: &[E; GROUP], out: &mut [MaybeUninit<E>]) {
        // The group kernel works in place: copy, then transform.
        let out: &mut [MaybeUninit<E>; GROUP] = out.try_into().expect("a whole group");
        for (o, &x) in out.iter_mut().zip(x) {
            o.write(x);
        }
        // SAFETY: every element of `out` was written just above, and `[MaybeUninit<E>; N]` has
        // the layout of `[E; N]`.
        let out = unsafe { &mut *(out as *mut [MaybeUninit<E>; GROUP] as *mut [E; GROUP]) };
        K::apply_group(out);
    }
}

/// [`map_contiguous`] with any [`Map1`].
pub(crate) fn map_contiguous_with<E: Element, T: Element>(
    x: &[E],
    cost: usize,
    f: impl Map1<E, T>,
) -> CpuStorage<T> {
    let isa = Isa::best();
    CpuStorage::build(x.len(), |out| {
        par_chunks(out, 1, x.len() * cost, |start, chunk| {
            let src = &x[start..start + chunk.len()];
            run_loop(isa, MapSlice(src, chunk, &f));
        })
    })
}

/// `out[i] = f(src[i])`.
pub(crate) struct MapSlice<'a, E, T, F>(pub &'a [E], pub &'a mut [MaybeUninit<T>], pub &'a F);

impl<E: Element, T: Element, F: Map1<E, T>> Loop for MapSlice<'_, E, T, F> {
    #[inline(always)]
    fn run(self) {
        let MapSlice(src, out, f) = self;
        let mut out_blocks = out.chunks_mut(PREFETCH_BLOCK);
        for (i, block) in src.chunks(PREFETCH_BLOCK).enumerate() {
            let ahead = &src[((i + PREFETCH_AHEAD) * PREFETCH_BLOCK).min(src.len())..];
            super::prefetch::prefetch(&ahead[..ahead.len().min(PREFETCH_BLOCK)]);
            let out = out_blocks.next().expect("as many blocks as src");
            MapSlice(block, out, f).run_block();
        }
    }
}

/// Elements per block of a map, whose input is fetched [`PREFETCH_AHEAD`] blocks ahead (see
/// `super::prefetch`). Intel Xeon (Emerald Rapids), one thread: exp on 16M f32 7.26 → 5.76 ms
/// (PyTorch 5.85), on 1M 0.323 → 0.288 ms; an add, memory-bound either way, did not move.
/// Fetching the output lines ahead too (`prefetchw`) was slower on 1M elements.
const PREFETCH_BLOCK: usize = 256;
/// How many blocks ahead the input is fetched (4 KiB of f32).
const PREFETCH_AHEAD: usize = 4;

impl<E: Element, T: Element, F: Map1<E, T>> MapSlice<'_, E, T, F> {
    /// The map over one block (whole groups first, when `f` has a group kernel).
    #[inline(always)]
    fn run_block(self) {
        let MapSlice(src, out, f) = self;
        let (out, src) = if f.groups() {
            let mut out_groups = out.chunks_exact_mut(GROUP);
            let mut src_groups = src.chunks_exact(GROUP);
            for (o, s) in out_groups.by_ref().zip(src_groups.by_ref()) {
                f.apply_group(s.try_into().expect("chunks_exact gives whole groups"), o);
            }
            (out_groups.into_remainder(), src_groups.remainder())
        } else {
            (out, src)
        };
        for (o, &a) in out.iter_mut().zip(src) {
            o.write(f.apply(a));
        }
    }
}

/// `out[j] = f(x[base + j·stride])`: a strided row.
struct MapStrided<'a, E, T, F> {
    x: &'a [E],
    base: usize,
    stride: usize,
    out: &'a mut [MaybeUninit<T>],
    f: &'a F,
}

impl<E: Element, T: Element, F: Map1<E, T>> Loop for MapStrided<'_, E, T, F> {
    #[inline(always)]
    fn run(self) {
        let (x, base, s, f) = (self.x, self.base, self.stride, self.f);
        for (j, o) in self.out.iter_mut().enumerate() {
            o.write(f.apply(x[base + j * s]));
        }
    }
}

/// `f` over the elements of `layout`, into a contiguous result. Strided rows run in the same
/// compiled copies as contiguous ones, so `mul_add` never becomes a libm call per element on
/// a CPU with FMA.
pub(crate) fn map1<E: Element, T: Element>(
    x: &[E],
    layout: &Layout,
    cost: usize,
    f: impl Fn(E) -> T + Sync,
) -> CpuStorage<T> {
    map1_with(x, layout, cost, Closure(f))
}

/// [`map1`] with any [`Map1`].
pub(crate) fn map1_with<E: Element, T: Element>(
    x: &[E],
    layout: &Layout,
    cost: usize,
    f: impl Map1<E, T>,
) -> CpuStorage<T> {
    if let Some(r) = layout.contiguous_range() {
        return map_contiguous_with(&x[r], cost, f);
    }
    let rows = Rows::new([layout]);
    let [s] = rows.inner_strides;
    let isa = Isa::best();
    CpuStorage::build(layout.numel(), |out| {
        rows.for_each_out(out, cost, |[base], row| {
            if s == 1 {
                let len = row.len();
                run_loop(isa, MapSlice(&x[base..base + len], row, &f));
            } else {
                let f = &f;
                run_loop(
                    isa,
                    MapStrided {
                        x,
                        base,
                        stride: s,
                        out: row,
                        f,
                    },
                );
            }
        })
    })
}

/// `f(a, b)` over two layouts of one shape.
pub(crate) fn map2<E: Element, T: Element>(
    a: &[E],
    la: &Layout,
    b: &[E],
    lb: &Layout,
    cost: usize,
    f: impl Fn(E, E) -> T + Sync,
) -> CpuStorage<T> {
    let n = la.numel();
    if let (Some(ra), Some(rb)) = (la.contiguous_range(), lb.contiguous_range()) {
        let (a, b) = (&a[ra], &b[rb]);
        let isa = Isa::best();
        return CpuStorage::build(n, |out| {
            par_chunks(out, 1, n * cost, |start, chunk| {
                let end = start + chunk.len();
                let row = Map2Row {
                    a: &a[start..end],
                    b: &b[start..end],
                    strides: (1, 1),
                    out: chunk,
                    f: &f,
                };
                run_loop(isa, row);
            })
        });
    }
    // Rows of the coalesced shape: a bias add [B, N] + [N] has rows where both sides are
    // contiguous, a [B, N] + [B, 1] has rows where one side is a single broadcast value.
    let rows = Rows::new([la, lb]);
    let [sa, sb] = rows.inner_strides;
    let isa = Isa::best();
    CpuStorage::build(n, |out| {
        rows.for_each_out(out, cost, |[ba, bb], out| {
            let row = Map2Row {
                a: &a[ba..],
                b: &b[bb..],
                strides: (sa, sb),
                out,
                f: &f,
            };
            run_loop(isa, row);
        })
    })
}

/// `out[j] = f(a[j·sa], b[j·sb])`, compiled per instruction set like [`MapSlice`]: the
/// contiguous and broadcast cases get loops of their own, which vectorise (GPT's residual
/// adds and bias adds on L2-sized activations ran 4 lanes at a time in the baseline copy).
struct Map2Row<'a, E, T, F> {
    a: &'a [E],
    b: &'a [E],
    strides: (usize, usize),
    out: &'a mut [MaybeUninit<T>],
    f: &'a F,
}

impl<E: Element, T: Element, F: Fn(E, E) -> T> Loop for Map2Row<'_, E, T, F> {
    #[inline(always)]
    fn run(self) {
        let Map2Row { a, b, out, f, .. } = self;
        let len = out.len();
        match self.strides {
            (1, 1) => {
                for ((o, &x), &y) in out.iter_mut().zip(&a[..len]).zip(&b[..len]) {
                    o.write(f(x, y));
                }
            }
            (1, 0) => {
                let y = b[0];
                for (o, &x) in out.iter_mut().zip(&a[..len]) {
                    o.write(f(x, y));
                }
            }
            (0, 1) => {
                let x = a[0];
                for (o, &y) in out.iter_mut().zip(&b[..len]) {
                    o.write(f(x, y));
                }
            }
            (sa, sb) => {
                for (j, o) in out.iter_mut().enumerate() {
                    o.write(f(a[j * sa], b[j * sb]));
                }
            }
        }
    }
}

/// In place: `dst = f(dst, src)` at the positions of `dl`.
pub(crate) fn update<E: Element>(
    dst: &mut [E],
    dl: &Layout,
    src: &[E],
    sl: &Layout,
    f: impl Fn(E, E) -> E + Sync,
) {
    if let (Some(rd), Some(rs)) = (dl.contiguous_range(), sl.contiguous_range()) {
        let (d, s) = (&mut dst[rd], &src[rs]);
        let n = d.len();
        let isa = Isa::best();
        par_chunks(d, 1, n, |start, chunk| {
            let len = chunk.len();
            run_loop(isa, UpdateSlice(chunk, &s[start..start + len], &f));
        });
        return;
    }
    let [dl, sl] = longest_axis_last([dl, sl]);
    let rows = Rows::new([&dl, &sl]);
    let [sd, ss] = rows.inner_strides;
    let len = rows.inner;
    rows.for_each(|[bd, bs]| {
        if sd == 1 && ss == 1 {
            for (o, &y) in dst[bd..bd + len].iter_mut().zip(&src[bs..bs + len]) {
                *o = f(*o, y);
            }
        } else {
            for j in 0..len {
                let o = &mut dst[bd + j * sd];
                *o = f(*o, src[bs + j * ss]);
            }
        }
    });
}

/// `dst[i] = f(dst[i], src[i])`, compiled per instruction set like [`MapSlice`] (an LSTM step
/// adds the input's share of its gates in place: the baseline copy did it 4 lanes at a time).
pub(crate) struct UpdateSlice<'a, E, F>(pub &'a mut [E], pub &'a [E], pub &'a F);

impl<E: Element, F: Fn(E, E) -> E> Loop for UpdateSlice<'_, E, F> {
    #[inline(always)]
    fn run(self) {
        let UpdateSlice(dst, src, f) = self;
        for (o, &y) in dst.iter_mut().zip(src) {
            *o = f(*o, y);
        }
    }
}

/// Rows shorter than this are worth trading for longer strided ones in [`longest_axis_last`].
const SHORT_ROW: usize = 16;

/// The layouts, coalesced, with their longest axis moved last when the last is short. Where
/// elements are visited in any order (an in-place update), rows along the longest axis are the
/// fewest: the adjoint of narrowing a kernel's last axes writes rows of 2 or 3 elements in
/// row-major order, and stepping from row to row then cost more than the copying. Rows of
/// [`SHORT_ROW`] or more stay as they are: they are contiguous runs more often than not.
fn longest_axis_last<const N: usize>(layouts: [&Layout; N]) -> [Layout; N] {
    let (mut dims, mut strides) = coalesce(layouts[0].dims(), layouts.map(|l| l.strides()));
    let last = dims.len() - 1;
    let longest = if dims[last] >= SHORT_ROW {
        last
    } else {
        (0..dims.len()).max_by_key(|&a| dims[a]).unwrap_or(last)
    };
    dims.swap(longest, last);
    for s in strides.iter_mut() {
        s.swap(longest, last);
    }
    let mut strides = strides.into_iter();
    layouts.map(|l| Layout::new(dims.clone(), strides.next().unwrap_or_default(), l.offset()))
}

#[cfg(test)]
mod tests {
    use super::super::isa::{run_loop, Isa};
    use super::{map1, update, Closure, Kernel, MapSlice};
    use nanotorch_ndarray_core::math::{self, exp_f32};
    use nanotorch_ndarray_core::{
        unary_kernels, Float, Layout, Shape, UnaryKernel, UnaryOp, UnaryVisitor,
    };
    use std::mem::MaybeUninit;

    /// `f` over `x` in the copy compiled for `isa`.
    fn map_with<E: Float>(isa: Isa, x: &[E], f: fn(E) -> E) -> Vec<E> {
        let mut out = vec![MaybeUninit::uninit(); x.len()];
        run_loop(isa, MapSlice(x, &mut out, &Closure(f)));
        // SAFETY: the loop wrote every element.
        out.into_iter()
            .map(|o| unsafe { o.assume_init() })
            .collect()
    }

    /// Inputs across the range of every function, specials and subnormals included.
    fn inputs<E: Float>() -> Vec<E> {
        let mut x: Vec<E> = (0..200_000)
            .map(|i| E::from_f64(-120.0 + i as f64 * 0.001_3))
            .collect();
        x.extend(
            (0..100_000).map(|i| E::from_f64((i as f64 * 0.37).sin() * 10f64.powi(i % 80 - 40))),
        );
        for v in [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.0,
            -0.0,
            1e-310,
            -1e-40,
            88.72,
            -745.5,
            710.0,
            1e30,
            -1e30,
        ] {
            x.push(E::from_f64(v));
        }
        x
    }

    /// Bit equality, NaN payloads and signs included.
    fn same_bits<E: Float>(a: E, b: E) -> bool {
        bytemuck::bytes_of(&a) == bytemuck::bytes_of(&b)
    }

    /// A kernel and its name.
    type Named<E> = (&'static str, fn(E) -> E);

    /// Every transcendental kernel, in every compiled copy this CPU has, gives the bits of the
    /// AVX-512 (or widest) copy — the scalar fallback included, where `mul_add` is libm's `fma`.
    fn all_copies_agree<E: Float>(fns: &[Named<E>]) {
        let x = inputs::<E>();
        let isas = Isa::available();
        assert!(isas.contains(&Isa::Baseline));
        for &(name, f) in fns {
            let want = map_with(isas[0], &x, f);
            for &isa in &isas[1..] {
                let got = map_with(isa, &x, f);
                for ((&xi, &g), &w) in x.iter().zip(&got).zip(&want) {
                    assert!(
                        same_bits(g, w),
                        "{name}({xi:?}): {isa:?} {g:?}, {:?} {w:?}",
                        isas[0]
                    );
                }
            }
            // And the plain scalar call (what `UnaryOp::eval` runs).
            for (&xi, &w) in x.iter().zip(&want) {
                assert!(same_bits(f(xi), w), "{name}({xi:?}): scalar call differs");
            }
        }
    }

    /// Every fast function, by name, at element type `E`.
    fn fast_functions<E: Float>() -> [Named<E>; 10] {
        [
            ("exp", math::fast_exp),
            ("log", math::fast_log),
            ("tanh", math::fast_tanh),
            ("sigmoid", math::fast_sigmoid),
            ("silu", math::fast_silu),
            ("softplus", math::fast_softplus),
            ("gelu_tanh", math::fast_gelu_tanh),
            ("erf", math::fast_erf),
            ("gelu_erf", math::fast_gelu_erf),
            ("gelu_erf_grad", math::fast_gelu_erf_grad),
        ]
    }

    #[test]
    fn every_isa_copy_gives_the_same_bits_f32() {
        all_copies_agree::<f32>(&fast_functions());
    }

    #[test]
    fn every_isa_copy_gives_the_same_bits_f64() {
        all_copies_agree::<f64>(&fast_functions());
    }

    /// `op`'s own kernel (its group form where it has one) over `x` in `isa`'s copy.
    fn map_op<E: Float>(isa: Isa, x: &[E], op: UnaryOp) -> Vec<E> {
        struct Visit<'a, E>(Isa, &'a [E]);
        impl<E: Float> UnaryVisitor for Visit<'_, E> {
            type Output = Vec<E>;
            fn visit<K: UnaryKernel>(self) -> Vec<E> {
                let mut out = vec![MaybeUninit::uninit(); self.1.len()];
                let kernel = Kernel::<K>(std::marker::PhantomData);
                run_loop(self.0, MapSlice(self.1, &mut out, &kernel));
                // SAFETY: the loop wrote every element.
                out.into_iter()
                    .map(|o| unsafe { o.assume_init() })
                    .collect()
            }
        }
        op.dispatch(Visit(isa, x))
    }

    /// The group kernels (f64 erf and exact GELU, which skip the far interval for the elements
    /// not in it) give every element the bits of the per-element kernel, in every compiled
    /// copy: on groups all near, all far and mixed, on specials, and on the leftover elements
    /// after the last whole group. (A NaN matches any NaN: which operand's NaN an
    /// instruction passes on depends on the order the compiler chose.)
    fn group_kernels_agree<E: Float>() {
        assert!(
            unary_kernels::GeluErf::groups::<f64>() && !unary_kernels::GeluErf::groups::<f32>()
        );
        let mut x = inputs::<E>();
        // Quasi-random in [-6, 6]: most groups mix near, middle and far elements.
        x.extend(
            (0..50_000).map(|i| E::from_f64(((i as f64 * 0.754_877_666).fract() - 0.5) * 12.0)),
        );
        for op in [UnaryOp::Erf, UnaryOp::GeluErf, UnaryOp::GeluErfGrad] {
            for isa in Isa::available() {
                let got = map_op(isa, &x, op);
                for (&xi, &g) in x.iter().zip(&got) {
                    let want = op.eval(xi);
                    assert!(
                        same_bits(g, want) || (g.is_nan() && want.is_nan()),
                        "{}({xi:?}) in {isa:?}: {g:?}, one by one {want:?}",
                        op.name()
                    );
                }
            }
        }
    }

    #[test]
    fn group_kernels_give_each_elements_bits_f64() {
        group_kernels_agree::<f64>();
    }

    #[test]
    fn group_kernels_give_each_elements_bits_f32() {
        group_kernels_agree::<f32>();
    }

    #[test]
    fn strided_rows_give_the_contiguous_bits() {
        // A transposed 300×200 view: rows of stride 200 run `MapStrided`.
        let x: Vec<f32> = (0..60_000).map(|i| -50.0 + i as f32 * 0.001_7).collect();
        let layout = Layout::new(Shape::from(vec![200, 300]), vec![1, 200], 0);
        let got = map1(&x, &layout, 16, exp_f32);
        for (k, &g) in got.as_slice().iter().enumerate() {
            let (i, j) = (k / 300, k % 300);
            assert_eq!(g.to_bits(), exp_f32(x[j * 200 + i]).to_bits());
        }
    }

    #[test]
    fn an_update_through_a_narrowed_kernel_view_writes_every_position_once() {
        // `[4, 5, 3, 3][:, :, 1..3, 0..2]` (short last axes) plus a transposed source.
        let dst_layout = Layout::new(Shape::from(vec![4, 5, 2, 2]), vec![45, 9, 3, 1], 3);
        let src: Vec<f64> = (0..80).map(|i| i as f64).collect();
        let src_layout = Layout::new(Shape::from(vec![4, 5, 2, 2]), vec![1, 4, 40, 20], 0);
        let mut dst = vec![0.5; 180];
        update(&mut dst, &dst_layout, &src, &src_layout, |d, s| d + s);
        let mut want = vec![0.5; 180];
        for (a, b, c, d) in (0..4).flat_map(|a| {
            (0..5).flat_map(move |b| (0..2).flat_map(move |c| (0..2).map(move |d| (a, b, c, d))))
        }) {
            want[3 + a * 45 + b * 9 + c * 3 + d] += src[a + b * 4 + c * 40 + d * 20];
        }
        assert_eq!(dst, want);
    }
}
