//! Cuda against Cpu, primitive by primitive, on contiguous and strided views. Each test skips,
//! saying why, when device 0 cannot be opened.
#![cfg(feature = "cuda")]

use nanotorch_backend_cpu::Cpu;
use nanotorch_backend_cuda::Cuda;
use nanotorch_ndarray_core::{Backend, Element, Layout};

fn device_or_skip(test: &str) -> Option<Cuda> {
    match Cuda::new(0) {
        Ok(dev) => Some(dev),
        Err(e) => {
            println!("SKIPPED {test}: no CUDA device: {e}");
            None
        }
    }
}

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

const BINARY_OPS: [nanotorch_ndarray_core::BinaryOp; 13] = {
    use nanotorch_ndarray_core::BinaryOp::*;
    [
        Add, Sub, Mul, Div, Pow, Maximum, Minimum, Eq, Ne, Lt, Le, Gt, Ge,
    ]
};

fn binary_family<E: Element + PartialEq + std::fmt::Debug>(cuda: &Cuda, data: &[E], scalar: E) {
    use nanotorch_ndarray_core::ScalarSide;
    let cpu = Cpu;
    let (gs, cs) = (
        cuda.from_slice(data).unwrap(),
        cpu.from_slice(data).unwrap(),
    );
    let ls = views();
    for op in BINARY_OPS {
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
