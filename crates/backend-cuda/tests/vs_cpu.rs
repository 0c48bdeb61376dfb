//! Cuda against Cpu, primitive by primitive, on contiguous and strided views. Each test skips,
//! saying why, when device 0 cannot be opened.
#![cfg(feature = "cuda")]

use nanotorch_backend_cpu::Cpu;
use nanotorch_backend_cuda::testing::device_or_skip;
use nanotorch_backend_cuda::Cuda;
use nanotorch_ndarray_core::{Backend, Element, Layout};

/// Views of a 4×6 storage: contiguous, transposed, sliced with a step and an offset, broadcast.
fn views() -> Vec<Layout> {
    let base = Layout::contiguous(vec![4, 6]);
    vec![
        base.clone(),
        base.transpose(0, 1).unwrap(),
        base.slice(1, 1, 6, 2).unwrap().narrow(0, 1, 2).unwrap(),
        Layout::new(vec![3, 6], vec![0, 1], 6),
    ]
}

fn same<E: Element>(cuda: &Cuda, a: &[E], layout: &Layout) -> Vec<E> {
    let s = cuda.from_slice(a).unwrap();
    cuda.to_vec(&s, layout).unwrap()
}

#[test]
fn fills_match_cpu() {
    let Some(cuda) = device_or_skip("fills_match_cpu") else {
        return;
    };
    let cpu = Cpu;
    let l = Layout::contiguous(vec![37]);
    let g = cuda.full(37, 2.5f32).unwrap();
    let c = cpu.full(37, 2.5f32).unwrap();
    assert_eq!(cuda.to_vec(&g, &l).unwrap(), cpu.to_vec(&c, &l).unwrap());
    let g = cuda.arange::<i64>(-3.0, 0.7, 37).unwrap();
    let c = cpu.arange::<i64>(-3.0, 0.7, 37).unwrap();
    assert_eq!(cuda.to_vec(&g, &l).unwrap(), cpu.to_vec(&c, &l).unwrap());
    let g = cuda.arange::<f64>(-3.0, 0.7, 37).unwrap();
    let c = cpu.arange::<f64>(-3.0, 0.7, 37).unwrap();
    assert_eq!(cuda.to_vec(&g, &l).unwrap(), cpu.to_vec(&c, &l).unwrap());
    assert_eq!(cuda.storage_len(&cuda.full(0, 1i64).unwrap()), 0);
}

#[test]
fn copies_and_casts_match_cpu() {
    let Some(cuda) = device_or_skip("copies_and_casts_match_cpu") else {
        return;
    };
    let cpu = Cpu;
    let data: Vec<f64> = (0..24).map(|i| (i as f64 - 11.3) * 1.7).collect();
    for layout in views() {
        let out_l = Layout::contiguous(layout.shape().clone());
        let gs = cuda.from_slice(&data).unwrap();
        let cs = cpu.from_slice(&data).unwrap();
        let g = cuda.copy_strided(&gs, &layout).unwrap();
        let c = cpu.copy_strided(&cs, &layout).unwrap();
        assert_eq!(
            cuda.to_vec(&g, &out_l).unwrap(),
            cpu.to_vec(&c, &out_l).unwrap()
        );
        let g = cuda.cast::<f64, i64>(&gs, &layout).unwrap();
        let c = cpu.cast::<f64, i64>(&cs, &layout).unwrap();
        assert_eq!(
            cuda.to_vec(&g, &out_l).unwrap(),
            cpu.to_vec(&c, &out_l).unwrap()
        );
        let g = cuda.cast::<f64, f32>(&gs, &layout).unwrap();
        let c = cpu.cast::<f64, f32>(&cs, &layout).unwrap();
        assert_eq!(
            cuda.to_vec(&g, &out_l).unwrap(),
            cpu.to_vec(&c, &out_l).unwrap()
        );
        assert_eq!(
            same(&cuda, &data, &layout),
            cpu.to_vec(&cs, &layout).unwrap()
        );
    }
    // A layout reaching past the storage is an error, not an out-of-bounds read.
    let small = cuda.from_slice(&[1.0f32, 2.0]).unwrap();
    assert!(cuda
        .copy_strided(&small, &Layout::contiguous(vec![3]))
        .is_err());
}

/// Equal, both NaN, or (floats) within a relative 1e-6: pow's libm may differ in the last bits.
fn assert_close<E: Element>(got: &[E], want: &[E], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        let (g, w) = (g.to_f64(), w.to_f64());
        let ok = (g.is_nan() && w.is_nan()) || g == w || (g - w).abs() <= 1e-6 * (1.0 + w.abs());
        assert!(ok, "{what}: element {k}: cuda {g} vs cpu {w}");
    }
}

fn binary_family<E: Element + PartialEq + std::fmt::Debug>(cuda: &Cuda, data: &[E], scalar: E) {
    use nanotorch_ndarray_core::ScalarSide;
    let cpu = Cpu;
    let (gs, cs) = (
        cuda.from_slice(data).unwrap(),
        cpu.from_slice(data).unwrap(),
    );
    let ls = views();
    // Every op of the table that is defined on `E` (atan2 is float-only).
    let ops = nanotorch_ndarray_core::BinaryOp::ALL
        .into_iter()
        .filter(|op| op.supports_integers() || E::DTYPE.is_float());
    for op in ops {
        // Pair each view with the one after it of the same shape, or with itself.
        for (i, l) in ls.iter().enumerate() {
            let r = ls[(i + 1)..]
                .iter()
                .find(|r| r.shape() == l.shape())
                .unwrap_or(l);
            let out_l = Layout::contiguous(l.shape().clone());
            let g = cuda.binary(op, &gs, l, &gs, r).unwrap();
            let c = cpu.binary(op, &cs, l, &cs, r).unwrap();
            let (g, c) = (
                cuda.to_vec(&g, &out_l).unwrap(),
                cpu.to_vec(&c, &out_l).unwrap(),
            );
            assert_close(&g, &c, &format!("binary {op:?} on {l:?} and {r:?}"));
            for side in [ScalarSide::Left, ScalarSide::Right] {
                let g = cuda.binary_scalar(op, &gs, l, scalar, side).unwrap();
                let c = cpu.binary_scalar(op, &cs, l, scalar, side).unwrap();
                let (g, c) = (
                    cuda.to_vec(&g, &out_l).unwrap(),
                    cpu.to_vec(&c, &out_l).unwrap(),
                );
                assert_close(&g, &c, &format!("binary_scalar {op:?} {side:?} on {l:?}"));
            }
        }
        // In place through a strided destination.
        let dst_l = Layout::contiguous(vec![4, 6]).transpose(0, 1).unwrap();
        let src_l = Layout::new(vec![6, 4], vec![1, 0], 0);
        let (mut gd, mut cd) = (
            cuda.from_slice(data).unwrap(),
            cpu.from_slice(data).unwrap(),
        );
        cuda.binary_inplace(op, &mut gd, &dst_l, &gs, &src_l)
            .unwrap();
        cpu.binary_inplace(op, &mut cd, &dst_l, &cs, &src_l)
            .unwrap();
        cuda.scalar_inplace(op, &mut gd, &dst_l, scalar).unwrap();
        cpu.scalar_inplace(op, &mut cd, &dst_l, scalar).unwrap();
        let full = Layout::contiguous(vec![24]);
        assert_close(
            &cuda.to_vec(&gd, &full).unwrap(),
            &cpu.to_vec(&cd, &full).unwrap(),
            &format!("in place {op:?}"),
        );
    }
}

#[test]
fn binary_ops_match_cpu() {
    let Some(cuda) = device_or_skip("binary_ops_match_cpu") else {
        return;
    };
    let ints: Vec<i64> = (0..24).map(|i| (i * 7 % 11) - 5).collect();
    binary_family(&cuda, &ints, 3i64);
    let f64s: Vec<f64> = ints.iter().map(|&v| v as f64 * 0.5).collect();
    binary_family(&cuda, &f64s, 2.0f64);
    let f32s: Vec<f32> = ints.iter().map(|&v| v as f32 * 0.5).collect();
    binary_family(&cuda, &f32s, 2.0f32);
}

#[test]
fn where_and_assign_match_cpu() {
    let Some(cuda) = device_or_skip("where_and_assign_match_cpu") else {
        return;
    };
    let cpu = Cpu;
    let data: Vec<f32> = (0..24).map(|i| ((i * 5) % 7) as f32 - 3.0).collect();
    let (gs, cs) = (
        cuda.from_slice(&data).unwrap(),
        cpu.from_slice(&data).unwrap(),
    );
    let l = Layout::contiguous(vec![6, 4]);
    let t = Layout::contiguous(vec![4, 6]).transpose(0, 1).unwrap();
    let b = Layout::new(vec![6, 4], vec![0, 1], 3);
    let out_l = Layout::contiguous(vec![6, 4]);
    let g = cuda.where_cond(&gs, &b, &gs, &t, &gs, &l).unwrap();
    let c = cpu.where_cond(&cs, &b, &cs, &t, &cs, &l).unwrap();
    assert_eq!(
        cuda.to_vec(&g, &out_l).unwrap(),
        cpu.to_vec(&c, &out_l).unwrap()
    );
    let (mut gd, mut cd) = (cuda.full(24, 0f32).unwrap(), cpu.full(24, 0f32).unwrap());
    cuda.assign(&mut gd, &t, &gs, &b).unwrap();
    cpu.assign(&mut cd, &t, &cs, &b).unwrap();
    let full = Layout::contiguous(vec![24]);
    assert_eq!(
        cuda.to_vec(&gd, &full).unwrap(),
        cpu.to_vec(&cd, &full).unwrap()
    );
}

#[test]
fn reductions_match_cpu() {
    use nanotorch_ndarray_core::ReduceOp;
    let Some(cuda) = device_or_skip("reductions_match_cpu") else {
        return;
    };
    let cpu = Cpu;
    let data: Vec<f64> = (0..24).map(|i| ((i * 5) % 7) as f64 * 0.3 - 0.8).collect();
    let ints: Vec<i64> = (0..24).map(|i| (i * 5) % 7 - 3).collect();
    let (gs, cs) = (
        cuda.from_slice(&data).unwrap(),
        cpu.from_slice(&data).unwrap(),
    );
    let (gi, ci) = (
        cuda.from_slice(&ints).unwrap(),
        cpu.from_slice(&ints).unwrap(),
    );
    for layout in views() {
        for axes in [&[][..], &[0], &[1], &[0, 1]] {
            let mut out_dims = layout.dims().to_vec();
            for &a in axes {
                out_dims[a] = 1;
            }
            let out_l = Layout::contiguous(out_dims);
            for op in [ReduceOp::Sum, ReduceOp::Prod, ReduceOp::Max, ReduceOp::Min] {
                let g = cuda.reduce(op, &gs, &layout, axes).unwrap();
                let c = cpu.reduce(op, &cs, &layout, axes).unwrap();
                assert_close(
                    &cuda.to_vec(&g, &out_l).unwrap(),
                    &cpu.to_vec(&c, &out_l).unwrap(),
                    &format!("reduce {op:?} {axes:?} on {layout:?}"),
                );
                let g = cuda.reduce(op, &gi, &layout, axes).unwrap();
                let c = cpu.reduce(op, &ci, &layout, axes).unwrap();
                assert_eq!(
                    cuda.to_vec(&g, &out_l).unwrap(),
                    cpu.to_vec(&c, &out_l).unwrap(),
                    "reduce i64 {op:?} {axes:?} on {layout:?}"
                );
            }
        }
    }
}

#[test]
fn large_reductions_match_cpu() {
    use nanotorch_ndarray_core::ReduceOp::{Max, Min, Prod, Sum};
    let Some(cuda) = device_or_skip("large_reductions_match_cpu") else {
        return;
    };
    // Quarters below 2: every partial sum is exact in f32, so any order gives the same bits.
    let (rows, cols) = (300, 1000);
    let data: Vec<f32> = (0..rows * cols)
        .map(|i| ((i * 7) % 13) as f32 * 0.25 - 1.5)
        .collect();
    let ints: Vec<i64> = (0..rows * cols).map(|i| (i as i64 * 7) % 13 - 6).collect();
    let base = Layout::contiguous(vec![rows, cols]);
    for layout in [base.clone(), base.transpose(0, 1).unwrap()] {
        for axes in [&[0, 1][..], &[0], &[1]] {
            same_reductions(&cuda, &data, &layout, axes, &[Sum, Max, Min]);
            same_reductions(&cuda, &ints, &layout, axes, &[Sum, Prod, Max]);
        }
    }
}

/// `ops` over `axes` of `data` viewed through `layout`, on both backends, bit for bit.
fn same_reductions<E: Element>(
    cuda: &Cuda,
    data: &[E],
    layout: &Layout,
    axes: &[usize],
    ops: &[nanotorch_ndarray_core::ReduceOp],
) {
    let mut out_dims = layout.dims().to_vec();
    for &a in axes {
        out_dims[a] = 1;
    }
    let out_l = Layout::contiguous(out_dims);
    let (gs, cs) = (
        cuda.from_slice(data).unwrap(),
        Cpu.from_slice(data).unwrap(),
    );
    for &op in ops {
        let g = cuda.reduce(op, &gs, layout, axes).unwrap();
        let c = Cpu.reduce(op, &cs, layout, axes).unwrap();
        assert_eq!(
            cuda.to_vec(&g, &out_l).unwrap(),
            Cpu.to_vec(&c, &out_l).unwrap(),
            "{op:?} {axes:?} on {layout:?}"
        );
    }
}

#[test]
fn matmul_matches_cpu() {
    let Some(cuda) = device_or_skip("matmul_matches_cpu") else {
        return;
    };
    let cpu = Cpu;
    // Sizes that are not multiples of the 16-wide tile, a transposed rhs and a broadcast batch.
    let (b, m, k, n) = (3, 37, 21, 18);
    let a: Vec<f32> = (0..b * m * k)
        .map(|i| ((i * 7) % 13) as f32 * 0.1 - 0.6)
        .collect();
    let w: Vec<f32> = (0..k * n)
        .map(|i| ((i * 5) % 11) as f32 * 0.1 - 0.5)
        .collect();
    let la = Layout::contiguous(vec![b, m, k]);
    let lw = Layout::new(vec![b, k, n], vec![0, 1, k], 0); // w stored as [n, k], transposed
    let (ga, ca) = (cuda.from_slice(&a).unwrap(), cpu.from_slice(&a).unwrap());
    let (gw, cw) = (cuda.from_slice(&w).unwrap(), cpu.from_slice(&w).unwrap());
    let g = cuda.matmul(&ga, &la, &gw, &lw).unwrap();
    let c = cpu.matmul(&ca, &la, &cw, &lw).unwrap();
    let out_l = Layout::contiguous(vec![b, m, n]);
    let (g, c) = (
        cuda.to_vec(&g, &out_l).unwrap(),
        cpu.to_vec(&c, &out_l).unwrap(),
    );
    for (x, y) in g.iter().zip(&c) {
        assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()), "{x} vs {y}");
    }
}

#[test]
fn random_matches_cpu() {
    use nanotorch_ndarray_core::RandomDist;
    let Some(cuda) = device_or_skip("random_matches_cpu") else {
        return;
    };
    let cpu = Cpu;
    let dists = [
        RandomDist::Uniform {
            low: -2.0,
            high: 3.0,
        },
        RandomDist::Normal {
            mean: 0.5,
            std: 2.0,
        },
        RandomDist::Bernoulli { p: 0.3 },
    ];
    let len = 1001;
    let l = Layout::contiguous(vec![len]);
    for seed in [0u64, 7, u64::MAX] {
        for dist in dists {
            let exact = !matches!(dist, RandomDist::Normal { .. });
            // f64: uniform and Bernoulli bit for bit; normal within the device libm's ulps.
            let g = cuda.random::<f64>(len, dist, seed).unwrap();
            let c = cpu.random::<f64>(len, dist, seed).unwrap();
            let (g, c) = (cuda.to_vec(&g, &l).unwrap(), cpu.to_vec(&c, &l).unwrap());
            for (k, (x, y)) in g.iter().zip(&c).enumerate() {
                let ok = if exact {
                    x == y
                } else {
                    (x - y).abs() <= 1e-13 * (1.0 + y.abs())
                };
                assert!(
                    ok,
                    "random f64 {dist:?} seed {seed} element {k}: {x} vs {y}"
                );
            }
            // f32: the same f64 values rounded, so normal is within one f32 ulp.
            let g = cuda.random::<f32>(len, dist, seed).unwrap();
            let c = cpu.random::<f32>(len, dist, seed).unwrap();
            let (g, c) = (cuda.to_vec(&g, &l).unwrap(), cpu.to_vec(&c, &l).unwrap());
            for (k, (x, y)) in g.iter().zip(&c).enumerate() {
                let ok = if exact {
                    x == y
                } else {
                    (x - y).abs() <= 2e-7 * (1.0 + y.abs())
                };
                assert!(
                    ok,
                    "random f32 {dist:?} seed {seed} element {k}: {x} vs {y}"
                );
            }
        }
    }
    assert_eq!(
        cuda.storage_len(&cuda.random::<f32>(0, dists[0], 1).unwrap()),
        0
    );
}

#[test]
fn arg_reduce_matches_cpu() {
    use nanotorch_ndarray_core::ArgReduceOp;
    let Some(cuda) = device_or_skip("arg_reduce_matches_cpu") else {
        return;
    };
    // Ties (first occurrence wins) and, in the f64 data, NaNs (the first NaN wins).
    let ints: Vec<i64> = (0..24).map(|i| (i * 5) % 7 - 3).collect();
    let f32s: Vec<f32> = ints.iter().map(|&v| v as f32 * 0.5).collect();
    let mut f64s: Vec<f64> = ints.iter().map(|&v| v as f64 * 0.25).collect();
    f64s[3] = f64::NAN;
    f64s[14] = f64::NAN;
    fn family<E: Element + std::fmt::Debug>(cuda: &Cuda, data: &[E]) {
        let cpu = Cpu;
        let (gs, cs) = (
            cuda.from_slice(data).unwrap(),
            cpu.from_slice(data).unwrap(),
        );
        for layout in views() {
            for axis in 0..layout.rank() {
                let mut out_dims = layout.dims().to_vec();
                out_dims[axis] = 1;
                let out_l = Layout::contiguous(out_dims);
                for op in [ArgReduceOp::ArgMax, ArgReduceOp::ArgMin] {
                    let g = cuda.arg_reduce(op, &gs, &layout, axis).unwrap();
                    let c = cpu.arg_reduce(op, &cs, &layout, axis).unwrap();
                    assert_eq!(
                        cuda.to_vec(&g, &out_l).unwrap(),
                        cpu.to_vec(&c, &out_l).unwrap(),
                        "{op:?} axis {axis} on {layout:?} ({:?})",
                        E::DTYPE
                    );
                }
            }
        }
        // An empty axis or an axis out of range is an error, as on the CPU.
        let empty = Layout::contiguous(vec![3, 0]);
        assert!(cuda
            .arg_reduce(ArgReduceOp::ArgMax, &gs, &empty, 1)
            .is_err());
        let l = Layout::contiguous(vec![4, 6]);
        assert!(cuda.arg_reduce(ArgReduceOp::ArgMin, &gs, &l, 2).is_err());
    }
    family(&cuda, &ints);
    family(&cuda, &f32s);
    family(&cuda, &f64s);
}

/// Runs `f` on both backends and checks they agree: equal values, or errors with one message.
fn both<E: Element + std::fmt::Debug>(
    what: &str,
    g: nanotorch_ndarray_core::Result<Vec<E>>,
    c: nanotorch_ndarray_core::Result<Vec<E>>,
) {
    match (g, c) {
        (Ok(g), Ok(c)) => assert_close(&g, &c, what),
        (Err(g), Err(c)) => assert_eq!(g.to_string(), c.to_string(), "{what}: errors differ"),
        (g, c) => panic!("{what}: cuda {g:?} vs cpu {c:?}"),
    }
}

fn indexing_family<E: Element + std::fmt::Debug>(cuda: &Cuda, data: &[E]) {
    let cpu = Cpu;
    let (gs, cs) = (
        cuda.from_slice(data).unwrap(),
        cpu.from_slice(data).unwrap(),
    );
    // Indices in 0..4 (out of range on the views' shorter axes too), then with -1 or 9 mixed in.
    let good: Vec<i64> = (0..24).map(|i| (i * 7 + 1) % 4).collect();
    for bad_value in [None, Some(-1i64), Some(9)] {
        let mut idx = good.clone();
        if let Some(v) = bad_value {
            idx[5] = v;
            idx[17] = v;
        }
        let (gi, ci) = (
            cuda.from_slice(&idx).unwrap(),
            cpu.from_slice(&idx).unwrap(),
        );
        for layout in views() {
            for axis in 0..2 {
                // An index of the source's rank, sizes off the axis no larger than the source's.
                let mut idims = layout.dims().to_vec();
                idims[axis] = 3;
                idims[1 - axis] = idims[1 - axis].saturating_sub(1).max(1);
                let il_c = Layout::contiguous(idims.clone());
                let il_t = Layout::contiguous(vec![idims[1], idims[0]])
                    .transpose(0, 1)
                    .unwrap();
                for il in [il_c, il_t] {
                    let out_l = Layout::contiguous(il.shape().clone());
                    let what = format!("gather axis {axis} {layout:?} index {il:?} {bad_value:?}");
                    let g = cuda
                        .gather(&gs, &layout, &gi, &il, axis)
                        .and_then(|s| cuda.to_vec(&s, &out_l));
                    let c = cpu
                        .gather(&cs, &layout, &ci, &il, axis)
                        .and_then(|s| cpu.to_vec(&s, &out_l));
                    both(&what, g, c);

                    // scatter_add into a contiguous (or transposed) destination of the source's
                    // shape; src has the index's shape (read through the same view).
                    let dl = Layout::contiguous(layout.shape().clone());
                    let (mut gd, mut cd) = (
                        cuda.full(24, E::zeroed()).unwrap(),
                        cpu.full(24, E::zeroed()).unwrap(),
                    );
                    let sl = Layout::contiguous(il.shape().clone());
                    let what = format!("scatter_add axis {axis} {dl:?} index {il:?} {bad_value:?}");
                    let g = cuda.scatter_add(&mut gd, &dl, &gi, &il, &gs, &sl, axis);
                    let c = cpu.scatter_add(&mut cd, &dl, &ci, &il, &cs, &sl, axis);
                    assert_eq!(g.is_ok(), c.is_ok(), "{what}: {g:?} vs {c:?}");
                    if let (Err(g), Err(c)) = (&g, &c) {
                        assert_eq!(g.to_string(), c.to_string(), "{what}");
                    }
                    // On an error the destination is untouched (all zero) on both.
                    let full = Layout::contiguous(vec![24]);
                    both(&what, cuda.to_vec(&gd, &full), cpu.to_vec(&cd, &full));
                }
                // index_select with a strided 1-D index of 5 (positions 0, 3, 6, …).
                let il = Layout::new(vec![5], vec![3], 1);
                let mut out_dims = layout.dims().to_vec();
                out_dims[axis] = 5;
                let out_l = Layout::contiguous(out_dims);
                let what = format!("index_select axis {axis} {layout:?} {bad_value:?}");
                let g = cuda
                    .index_select(&gs, &layout, &gi, &il, axis)
                    .and_then(|s| cuda.to_vec(&s, &out_l));
                let c = cpu
                    .index_select(&cs, &layout, &ci, &il, axis)
                    .and_then(|s| cpu.to_vec(&s, &out_l));
                both(&what, g, c);
            }
        }
    }
}

#[test]
fn indexing_matches_cpu() {
    let Some(cuda) = device_or_skip("indexing_matches_cpu") else {
        return;
    };
    // Small integers, so float scatter-adds are exact whatever order the atomics take.
    let ints: Vec<i64> = (0..24).map(|i| (i * 5) % 7 - 3).collect();
    indexing_family(&cuda, &ints);
    let f32s: Vec<f32> = ints.iter().map(|&v| v as f32 * 0.5).collect();
    indexing_family(&cuda, &f32s);
    let f64s: Vec<f64> = ints.iter().map(|&v| v as f64 * 0.25).collect();
    indexing_family(&cuda, &f64s);
}

#[test]
fn scatter_add_accumulates_collisions() {
    let Some(cuda) = device_or_skip("scatter_add_accumulates_collisions") else {
        return;
    };
    // 10 000 ones into 3 slots: atomics must not lose updates.
    let n = 10_000;
    let idx: Vec<i64> = (0..n).map(|i| (i % 3) as i64).collect();
    let ones = vec![1i64; n];
    let il = Layout::contiguous(vec![n]);
    let gi = cuda.from_slice(&idx).unwrap();
    let gs = cuda.from_slice(&ones).unwrap();
    let mut gd = cuda.full(3, 0i64).unwrap();
    let dl = Layout::contiguous(vec![3]);
    cuda.scatter_add(&mut gd, &dl, &gi, &il, &gs, &il, 0)
        .unwrap();
    assert_eq!(cuda.to_vec(&gd, &dl).unwrap(), vec![3334, 3333, 3333]);
    let gs = cuda.from_slice(&vec![0.5f64; n]).unwrap();
    let mut gd = cuda.full(3, 0f64).unwrap();
    cuda.scatter_add(&mut gd, &dl, &gi, &il, &gs, &il, 0)
        .unwrap();
    assert_eq!(cuda.to_vec(&gd, &dl).unwrap(), vec![1667.0, 1666.5, 1666.5]);
}

fn windows() -> Vec<nanotorch_ndarray_core::Window2d> {
    use nanotorch_ndarray_core::Window2d;
    vec![
        Window2d::new((3, 3)),
        Window2d {
            kernel: (2, 3),
            stride: (2, 1),
            padding: (1, 2),
            dilation: (1, 2),
        },
        // 1-D: a height-1 kernel over a height-1 image.
        Window2d {
            kernel: (1, 3),
            stride: (1, 2),
            padding: (0, 1),
            dilation: (1, 2),
        },
        Window2d {
            kernel: (1, 1),
            stride: (3, 3),
            padding: (0, 0),
            dilation: (1, 1),
        },
        // Does not fit: both backends must refuse.
        Window2d::new((9, 9)),
    ]
}

fn im2col_family<E: nanotorch_ndarray_core::Float + std::fmt::Debug>(cuda: &Cuda) {
    let cpu = Cpu;
    let (n, c, h, w) = (2usize, 3usize, 5usize, 7usize);
    let data: Vec<E> = (0..n * c * h * w)
        .map(|i| E::from_f64(((i * 37) % 17) as f64 * 0.25 - 2.0))
        .collect();
    let (gs, cs) = (
        cuda.from_slice(&data).unwrap(),
        cpu.from_slice(&data).unwrap(),
    );
    let contiguous = Layout::contiguous(vec![n, c, h, w]);
    // The same storage read as [n, c, w, h]-transposed and as a 1-D (height-1) image.
    let transposed = Layout::contiguous(vec![n, c, w, h])
        .transpose(2, 3)
        .unwrap();
    let one_d = Layout::contiguous(vec![n, c, h, w])
        .narrow(2, 2, 1)
        .unwrap();
    for layout in [contiguous, transposed, one_d] {
        let (ih, iw) = (layout.dims()[2], layout.dims()[3]);
        for window in windows() {
            let what = format!("im2col {window:?} on {layout:?}");
            let (kh, kw) = window.kernel;
            let Some((oh, ow)) = window.output_size(ih, iw) else {
                assert!(cuda.im2col(&gs, &layout, &window).is_err(), "{what}");
                assert!(cpu.im2col(&cs, &layout, &window).is_err(), "{what}");
                continue;
            };
            let cols_l = Layout::contiguous(vec![n, c * kh * kw, oh * ow]);
            let g = cuda.im2col(&gs, &layout, &window).unwrap();
            let cc = cpu.im2col(&cs, &layout, &window).unwrap();
            let (gv, cv) = (
                cuda.to_vec(&g, &cols_l).unwrap(),
                cpu.to_vec(&cc, &cols_l).unwrap(),
            );
            assert_eq!(gv, cv, "{what}");
            // col2im of those columns, read contiguously and through a transposed view.
            let gi = cuda.col2im(&g, &cols_l, c, (ih, iw), &window).unwrap();
            let ci = cpu.col2im(&cc, &cols_l, c, (ih, iw), &window).unwrap();
            let img_l = Layout::contiguous(vec![n, c, ih, iw]);
            assert_eq!(
                cuda.to_vec(&gi, &img_l).unwrap(),
                cpu.to_vec(&ci, &img_l).unwrap(),
                "col2im {window:?} ({ih}x{iw})"
            );
            let t_l = Layout::contiguous(vec![n, oh * ow, c * kh * kw])
                .transpose(1, 2)
                .unwrap();
            let gi = cuda.col2im(&g, &t_l, c, (ih, iw), &window).unwrap();
            let ci = cpu.col2im(&cc, &t_l, c, (ih, iw), &window).unwrap();
            assert_eq!(
                cuda.to_vec(&gi, &img_l).unwrap(),
                cpu.to_vec(&ci, &img_l).unwrap(),
                "col2im through a transposed view, {window:?}"
            );
            // Mismatched columns are refused by both.
            assert!(cuda.col2im(&g, &cols_l, c + 1, (ih, iw), &window).is_err());
            assert!(cpu.col2im(&cc, &cols_l, c + 1, (ih, iw), &window).is_err());
        }
    }
}

#[test]
fn im2col_col2im_match_cpu() {
    let Some(cuda) = device_or_skip("im2col_col2im_match_cpu") else {
        return;
    };
    im2col_family::<f32>(&cuda);
    im2col_family::<f64>(&cuda);
}
