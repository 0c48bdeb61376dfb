//! Families of reductions, arg-reductions and matmul.

use super::*;

/// Every reduce op over random axis sets (negative axes too), with and without keepdim.
pub fn check_reduce<B: Backend>(b: &B) {
    fn one<E: Element, B: Backend>(b: &B, seed: u64) -> CaseResult {
        let mut rng = Rng(seed);
        let dims = rng.shape(4);
        let rank = dims.len();
        let (x, hx) = make_view::<E, B>(b, &mut rng, &dims, false, &mut |r| r.grid() / 2.0)?;
        let axes: Vec<usize> = (0..rank).filter(|_| rng.chance(50)).collect();
        let given: Vec<isize> = axes
            .iter()
            .map(|&a| {
                if rng.chance(30) {
                    a as isize - rank as isize
                } else {
                    a as isize
                }
            })
            .collect();
        let keepdim = rng.chance(50);
        // Empty axes mean "all axes", as in PyTorch's sum().
        let red: Vec<usize> = if axes.is_empty() {
            (0..rank).collect()
        } else {
            axes
        };
        let kept_dims: Vec<usize> = (0..rank)
            .map(|i| if red.contains(&i) { 1 } else { dims[i] })
            .collect();
        let out_dims: Vec<usize> = if keepdim {
            kept_dims.clone()
        } else {
            (0..rank)
                .filter(|i| !red.contains(i))
                .map(|i| dims[i])
                .collect()
        };
        for op in [ReduceOp::Sum, ReduceOp::Prod, ReduceOp::Max, ReduceOp::Min] {
            let y = ok(op.name(), x.reduce(op, &given, keepdim))?;
            let mut acc = vec![op.identity::<E>(); numel(&kept_dims)];
            let mut mag = vec![0.0f64; acc.len()];
            for (i, &v) in hx.vals.iter().enumerate() {
                let mut idx = unravel(i, &dims);
                for &a in &red {
                    idx[a] = 0;
                }
                let o = ravel(&idx, &kept_dims);
                acc[o] = op.combine(acc[o], E::from_f64(v));
                mag[o] += v.abs();
            }
            ensure(y.dims() == out_dims.as_slice(), || {
                format!("{}: shape {:?}, expected {out_dims:?}", op.name(), y.dims())
            })?;
            let got = to_f64(&y)?;
            let (r, a) = tol::<E>();
            for (k, (&g, w)) in got.iter().zip(&acc).enumerate() {
                let w = w.to_f64();
                // Sums may add in any order: allow rounding relative to the summed magnitudes.
                let atol = if op == ReduceOp::Sum {
                    a + r * mag[k]
                } else {
                    a
                };
                ensure(close(g, w, r, atol), || {
                    format!("{} {} axes {given:?} keepdim {keepdim} of {dims:?}: element {k}: got {g}, expected {w}", op.name(), E::DTYPE)
                })?;
            }
            ensure(got.len() == acc.len(), || {
                format!("{}: wrong length", op.name())
            })?;
        }
        Ok(())
    }
    run("reduce f32", |s| one::<f32, B>(b, s));
    run("reduce f64", |s| one::<f64, B>(b, s));
    run("reduce i64", |s| one::<i64, B>(b, s));
    // A bad axis names the op and the shape.
    let x = NDArray::<f32, B>::zeros([2, 3], b).expect("zeros");
    let msg = x
        .sum(&[2], false)
        .expect_err("axis 2 of [2, 3]")
        .to_string();
    assert!(msg.contains("sum") && msg.contains("[2, 3]"), "{msg}");
}

/// argmax / argmin along an axis or over everything (first occurrence wins on ties).
pub fn check_arg_reduce<B: Backend>(b: &B) {
    fn one<E: Element, B: Backend>(b: &B, seed: u64) -> CaseResult {
        let mut rng = Rng(seed);
        let dims = rng.shape(4);
        let rank = dims.len();
        let (x, hx) = make_view::<E, B>(b, &mut rng, &dims, false, &mut |r| r.grid())?;
        let axis = if rank == 0 || rng.chance(20) {
            None
        } else {
            Some(rng.below(rank))
        };
        let keepdim = rng.chance(50);
        for op in [ArgReduceOp::ArgMax, ArgReduceOp::ArgMin] {
            let res = x.arg_reduce(op, axis.map(|a| a as isize), keepdim);
            let (len, outer_dims): (usize, Vec<usize>) = match axis {
                None => (numel(&dims), vec![]),
                Some(a) => (dims[a], {
                    let mut d = dims.clone();
                    d[a] = 1;
                    d
                }),
            };
            if len == 0 {
                ensure(res.is_err(), || {
                    format!("{} over an empty axis must fail", op.name())
                })?;
                continue;
            }
            let y = ok(op.name(), res)?;
            let mut want = Vec::new();
            for o in 0..numel(&outer_dims) {
                let mut best: Option<(usize, f64)> = None;
                for j in 0..len {
                    let i = match axis {
                        None => j,
                        Some(a) => {
                            let mut idx = unravel(o, &outer_dims);
                            idx[a] = j;
                            ravel(&idx, &dims)
                        }
                    };
                    let v = hx.vals[i];
                    let better = match (best, op) {
                        (None, _) => true,
                        (Some((_, bv)), ArgReduceOp::ArgMax) => v > bv,
                        (Some((_, bv)), ArgReduceOp::ArgMin) => v < bv,
                    };
                    if better {
                        best = Some((j, v));
                    }
                }
                want.push(best.map_or(0, |(j, _)| j) as f64);
            }
            let out_dims: Vec<usize> = match (axis, keepdim) {
                (None, false) => vec![],
                (None, true) => vec![1; rank],
                (Some(_), true) => outer_dims.clone(),
                (Some(a), false) => (0..rank).filter(|&i| i != a).map(|i| dims[i]).collect(),
            };
            check_result(op.name(), &y, &out_dims, &want)?;
        }
        Ok(())
    }
    run("arg_reduce f32", |s| one::<f32, B>(b, s));
    run("arg_reduce i64", |s| one::<i64, B>(b, s));
}

/// `NDArray::matmul`: 1-D operands, transposed and sliced operands, broadcast batch axes,
/// zero-size m / k / n, and sizes big enough for a blocked GEMM's edge cases.
pub fn check_matmul<B: Backend>(b: &B) {
    fn one<E: Float, B: Backend>(b: &B, seed: u64) -> CaseResult {
        let mut rng = Rng(seed);
        let size = |r: &mut Rng| {
            if r.chance(15) {
                9 + r.below(40)
            } else {
                r.dim()
            }
        };
        let (m, k, n) = (size(&mut rng), size(&mut rng), size(&mut rng));
        let batch = {
            let mut s = rng.shape(2);
            s.iter_mut().for_each(|d| *d = (*d).min(3));
            s
        };
        let (ba, bb) = (rng.broadcastable(&batch), rng.broadcastable(&batch));
        let batch = broadcast_dims(&[&ba, &bb]);
        let lhs_1d = rng.chance(15);
        let rhs_1d = rng.chance(15);
        let da: Vec<usize> = if lhs_1d {
            vec![k]
        } else {
            [ba.clone(), vec![m, k]].concat()
        };
        let db: Vec<usize> = if rhs_1d {
            vec![k]
        } else {
            [bb.clone(), vec![k, n]].concat()
        };
        let batch = if lhs_1d && rhs_1d {
            vec![]
        } else if lhs_1d {
            bb.clone()
        } else if rhs_1d {
            ba.clone()
        } else {
            batch
        };
        let (x, hx) = make_view::<E, B>(b, &mut rng, &da, false, &mut |r| r.grid())?;
        let (y, hy) = make_view::<E, B>(b, &mut rng, &db, false, &mut |r| r.grid())?;
        let z = ok("matmul", x.matmul(&y))?;
        let (m, n) = (if lhs_1d { 1 } else { m }, if rhs_1d { 1 } else { n });
        let full_a = [batch.clone(), vec![m, k]].concat();
        let full_b = [batch.clone(), vec![k, n]].concat();
        let ea = Host::new(if lhs_1d { vec![1, k] } else { da.clone() }, hx.vals).expand(&full_a);
        let eb = Host::new(if rhs_1d { vec![k, 1] } else { db.clone() }, hy.vals).expand(&full_b);
        let nb = numel(&batch);
        let mut want = vec![0.0; nb * m * n];
        let mut mag = vec![0.0; nb * m * n];
        for bi in 0..nb {
            for i in 0..m {
                for j in 0..n {
                    for p in 0..k {
                        let t = ea.vals[(bi * m + i) * k + p] * eb.vals[(bi * k + p) * n + j];
                        want[(bi * m + i) * n + j] += t;
                        mag[(bi * m + i) * n + j] += t.abs();
                    }
                }
            }
        }
        let mut out_dims = batch.clone();
        if !lhs_1d {
            out_dims.push(m);
        }
        if !rhs_1d {
            out_dims.push(n);
        }
        ensure(z.dims() == out_dims.as_slice(), || {
            format!(
                "matmul {da:?} @ {db:?}: shape {:?}, expected {out_dims:?}",
                z.dims()
            )
        })?;
        let got = to_f64(&z)?;
        let (r, a) = tol::<E>();
        for (i, &g) in got.iter().enumerate() {
            ensure(close(g, want[i], r, a + r * mag[i]), || {
                format!(
                    "matmul {da:?} @ {db:?}: element {i}: got {g}, expected {}",
                    want[i]
                )
            })?;
        }
        // `matmul_add`: the same bits as the product then `add`, for an addend broadcast to
        // the product (a bias row, a column, the whole shape), as a strided view or not.
        let ad = rng.broadcastable(&out_dims);
        let (addend, _) = make_view::<E, B>(b, &mut rng, &ad, false, &mut |r| r.grid())?;
        let fused = ok("matmul_add", x.matmul_add(&y, &addend))?;
        let apart = ok("add", z.add(&addend))?;
        ensure(fused.dims() == apart.dims(), || {
            format!(
                "matmul_add {da:?} @ {db:?} + {ad:?}: shape {:?}, expected {:?}",
                fused.dims(),
                apart.dims()
            )
        })?;
        let (fused, apart) = (to_f64(&fused)?, to_f64(&apart)?);
        for (i, (f, a)) in fused.iter().zip(&apart).enumerate() {
            ensure(f.to_bits() == a.to_bits(), || {
                format!("matmul_add {da:?} @ {db:?} + {ad:?}: element {i}: got {f}, expected {a}")
            })?;
        }
        Ok(())
    }
    run("matmul f32", |s| one::<f32, B>(b, s));
    run("matmul f64", |s| one::<f64, B>(b, s));
    let x = NDArray::<f32, B>::zeros([2, 3], b).expect("zeros");
    let y = NDArray::<f32, B>::zeros([4, 5], b).expect("zeros");
    let msg = x.matmul(&y).expect_err("[2, 3] @ [4, 5]").to_string();
    assert!(
        msg.contains("matmul") && msg.contains("[2, 3]") && msg.contains("[4, 5]"),
        "{msg}"
    );
}
