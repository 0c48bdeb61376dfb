//! Families of creation, copies, casts and element-wise ops.

use super::*;

/// full / zeros / ones / arange / from_slice / scalar.
pub fn check_creation<B: Backend>(b: &B) {
    run("creation", |seed| {
        let mut rng = Rng(seed);
        let dims = rng.shape(4);
        let v = rng.grid();
        let n = numel(&dims);
        let a = ok("full", NDArray::<f32, B>::full(dims.clone(), v as f32, b))?;
        check_result("full", &a, &dims, &vec![v; n])?;
        let z = ok("zeros", NDArray::<i64, B>::zeros(dims.clone(), b))?;
        check_result("zeros", &z, &dims, &vec![0.0; n])?;
        let o = ok("ones", NDArray::<f64, B>::ones(dims.clone(), b))?;
        check_result("ones", &o, &dims, &vec![1.0; n])?;
        let (start, step) = (rng.grid(), if rng.chance(50) { 0.5 } else { -1.25 });
        let end = start + step * rng.below(20) as f64;
        let r = ok("arange", NDArray::<f64, B>::arange(start, end, step, b))?;
        let len = ((end - start) / step).ceil().max(0.0) as usize;
        let want: Vec<f64> = (0..len).map(|i| start + step * i as f64).collect();
        check_result("arange", &r, &[len], &want)?;
        let s = ok("scalar", NDArray::<f32, B>::scalar(v as f32, b))?;
        check_result("scalar", &s, &[], &[v])?;
        ensure(ok("item", s.to_scalar())? == v as f32, || "item".into())
    });
}

/// copy / contiguous of random views, for every dtype.
pub fn check_copy<B: Backend>(b: &B) {
    fn one<E: Element, B: Backend>(b: &B, seed: u64) -> CaseResult {
        let mut rng = Rng(seed);
        let dims = rng.shape(4);
        let (x, hx) = make_view::<E, B>(b, &mut rng, &dims, false, &mut |r| r.grid() * 8.0)?;
        let c = ok("copy", x.copy())?;
        check_result("copy", &c, &dims, &hx.vals)?;
        ensure(c.is_contiguous() && !c.same_storage(&x), || {
            "copy must be contiguous and own its storage".into()
        })?;
        let k = ok("contiguous", x.contiguous())?;
        check_result("contiguous", &k, &dims, &hx.vals)?;
        ensure(k.same_storage(&x) == x.is_contiguous(), || {
            "contiguous() must copy exactly when the input is not contiguous".into()
        })?;
        check_result("to_vec", &x, &dims, &hx.vals)
    }
    run("copy f32", |s| one::<f32, B>(b, s));
    run("copy f64", |s| one::<f64, B>(b, s));
    run("copy i64", |s| one::<i64, B>(b, s));
}

/// Casts between f32, f64 and i64 (floats to integers truncate toward zero).
pub fn check_cast<B: Backend>(b: &B) {
    fn one<E: Element, T: Element, B: Backend>(b: &B, seed: u64, big: bool) -> CaseResult {
        let mut rng = Rng(seed);
        let dims = rng.shape(3);
        let (x, hx) = make_view::<E, B>(b, &mut rng, &dims, false, &mut |r| {
            if big {
                // i64 values beyond 2^53 must survive an i64 -> i64 cast exactly.
                (r.next() >> 1) as f64
            } else {
                r.grid() * 3.0
            }
        })?;
        let y = ok("cast", x.cast::<T>())?;
        let want: Vec<f64> = hx.vals.iter().map(|&v| T::from_f64(v).to_f64()).collect();
        check_result(
            &format!("cast {} -> {}", E::DTYPE, T::DTYPE),
            &y,
            &dims,
            &want,
        )
    }
    run("cast", |s| {
        one::<f32, f64, B>(b, s, false)?;
        one::<f64, f32, B>(b, s, false)?;
        one::<f32, i64, B>(b, s, false)?;
        one::<f64, i64, B>(b, s, false)?;
        one::<i64, f32, B>(b, s, false)?;
        one::<i64, f64, B>(b, s, false)?;
        one::<f32, f32, B>(b, s, false)?;
        // i64 -> i64 with values above 2^53: exact.
        let mut rng = Rng(s);
        let vals: Vec<i64> = (0..5).map(|_| (rng.next() >> 1) as i64).collect();
        let x = ok(
            "from_vec",
            NDArray::<i64, B>::from_vec(vals.clone(), [5], b),
        )?;
        let y = ok("cast", x.cast::<i64>())?;
        ensure(ok("to_vec", y.to_vec())? == vals, || {
            "i64 -> i64 cast is not exact".into()
        })
    });
}

/// Every unary op on random views, f32 and f64, against `UnaryOp::eval_f64`.
pub fn check_unary<B: Backend>(b: &B) {
    fn one<E: Float, B: Backend>(b: &B, seed: u64) -> CaseResult {
        let mut rng = Rng(seed);
        let dims = rng.shape(4);
        let (x, hx) = make_view::<E, B>(b, &mut rng, &dims, false, &mut |r| r.grid())?;
        for op in UnaryOp::ALL {
            let y = ok(op.name(), x.unary(op))?;
            let want: Vec<f64> = hx
                .vals
                .iter()
                .map(|&v| E::from_f64(op.eval_f64(v)).to_f64())
                .collect();
            check_result(&format!("{} {}", op.name(), E::DTYPE), &y, &dims, &want)?;
        }
        Ok(())
    }
    run("unary f32", |s| one::<f32, B>(b, s));
    run("unary f64", |s| one::<f64, B>(b, s));
}

/// Whether binary `op` exists for `E` (float-only ops such as `atan2` are a dtype error on
/// integers).
fn applies<E: Element>(op: BinaryOp) -> bool {
    E::DTYPE.is_float() || op.supports_integers()
}

fn binary_case<E: Element, B: Backend>(b: &B, seed: u64) -> CaseResult {
    let mut rng = Rng(seed);
    let out = rng.shape(4);
    let (da, db) = (rng.broadcastable(&out), rng.broadcastable(&out));
    let out = broadcast_dims(&[&da, &db]);
    let gen = &mut |r: &mut Rng| r.grid();
    let (x, hx) = make_view::<E, B>(b, &mut rng, &da, false, gen)?;
    let (y, hy) = make_view::<E, B>(b, &mut rng, &db, false, gen)?;
    let (hx, hy) = (hx.expand(&out), hy.expand(&out));
    for op in BinaryOp::ALL {
        if !applies::<E>(op) {
            let res = x.binary(op, &y);
            ensure(matches!(res, Err(Error::DType { .. })), || {
                format!(
                    "{} on {}: expected a dtype error, got {res:?}",
                    op.name(),
                    E::DTYPE
                )
            })?;
            continue;
        }
        let z = ok(op.name(), x.binary(op, &y))?;
        let want: Vec<f64> = hx
            .vals
            .iter()
            .zip(&hy.vals)
            .map(|(&p, &q)| op.eval(E::from_f64(p), E::from_f64(q)).to_f64())
            .collect();
        check_result(&format!("{} {}", op.name(), E::DTYPE), &z, &out, &want)?;
    }
    Ok(())
}

/// Every binary op on two random views with broadcasting, for f32, f64 and i64.
pub fn check_binary<B: Backend>(b: &B) {
    run("binary f32", |s| binary_case::<f32, B>(b, s));
    run("binary f64", |s| binary_case::<f64, B>(b, s));
    run("binary i64", |s| binary_case::<i64, B>(b, s));
    // Incompatible shapes are an error naming the op and both shapes.
    let x = NDArray::<f32, B>::zeros([2, 3], b).expect("zeros");
    let y = NDArray::<f32, B>::zeros([4], b).expect("zeros");
    let msg = x.add(&y).expect_err("[2, 3] + [4] must fail").to_string();
    assert!(
        msg.contains("add") && msg.contains("[2, 3]") && msg.contains("[4]"),
        "{msg}"
    );
}

/// Scalar variants of every binary op, with the scalar on either side.
pub fn check_scalar<B: Backend>(b: &B) {
    fn one<E: Element, B: Backend>(b: &B, seed: u64) -> CaseResult {
        let mut rng = Rng(seed);
        let dims = rng.shape(4);
        let (x, hx) = make_view::<E, B>(b, &mut rng, &dims, false, &mut |r| r.grid())?;
        let s = E::from_f64(rng.grid());
        for op in BinaryOp::ALL.into_iter().filter(|&op| applies::<E>(op)) {
            for side in [ScalarSide::Right, ScalarSide::Left] {
                let z = ok(op.name(), x.binary_scalar(op, s, side))?;
                let want: Vec<f64> = hx
                    .vals
                    .iter()
                    .map(|&v| {
                        let v = E::from_f64(v);
                        match side {
                            ScalarSide::Right => op.eval(v, s),
                            ScalarSide::Left => op.eval(s, v),
                        }
                        .to_f64()
                    })
                    .collect();
                check_result(
                    &format!("{} {side:?} {}", op.name(), E::DTYPE),
                    &z,
                    &dims,
                    &want,
                )?;
            }
        }
        Ok(())
    }
    run("scalar f32", |s| one::<f32, B>(b, s));
    run("scalar f64", |s| one::<f64, B>(b, s));
    run("scalar i64", |s| one::<i64, B>(b, s));
}

/// In-place ops (`assign`, `binary_assign`, `scalar_assign`) through a writable view: the view's
/// elements change, every other element of the base storage stays.
pub fn check_inplace<B: Backend>(b: &B) {
    fn one<E: Element, B: Backend>(b: &B, seed: u64) -> CaseResult {
        let mut rng = Rng(seed);
        let dims = rng.shape(4);
        let ops: Vec<BinaryOp> = BinaryOp::ALL
            .into_iter()
            .filter(|&op| applies::<E>(op))
            .collect();
        let op = ops[rng.below(ops.len())];
        let which = rng.below(3);
        let (dst, hd) = make_view::<E, B>(b, &mut rng, &dims, true, &mut |r| r.grid())?;
        let rd = rng.broadcastable(&dims);
        let (src, hs) = make_view::<E, B>(b, &mut rng, &rd, false, &mut |r| r.grid())?;
        let hs = hs.expand(&dims);
        let s = E::from_f64(rng.grid());
        // The whole base buffer before the write, read through a full contiguous view.
        let base_len = hd.src.iter().max().map_or(0, |&m| m + 1);
        let mut want_base = vec![f64::NAN; base_len];
        for (&i, &v) in hd.src.iter().zip(&hd.vals) {
            want_base[i] = v;
        }
        let name = match which {
            0 => {
                ok("assign", dst.assign(&src))?;
                for (k, &i) in hd.src.iter().enumerate() {
                    want_base[i] = hs.vals[k];
                }
                "assign"
            }
            1 => {
                ok(op.name(), dst.binary_assign(op, &src))?;
                for (k, &i) in hd.src.iter().enumerate() {
                    want_base[i] = op
                        .eval(E::from_f64(hd.vals[k]), E::from_f64(hs.vals[k]))
                        .to_f64();
                }
                op.name()
            }
            _ => {
                ok(op.name(), dst.scalar_assign(op, s))?;
                for (k, &i) in hd.src.iter().enumerate() {
                    want_base[i] = op.eval(E::from_f64(hd.vals[k]), s).to_f64();
                }
                op.name()
            }
        };
        let got = to_f64(&dst)?;
        let want: Vec<f64> = hd.src.iter().map(|&i| want_base[i]).collect();
        let (r, a) = tol::<E>();
        compare(&format!("in-place {name} {}", E::DTYPE), &got, &want, r, a)
    }
    run("inplace f32", |s| one::<f32, B>(b, s));
    run("inplace f64", |s| one::<f64, B>(b, s));
    run("inplace i64", |s| one::<i64, B>(b, s));
    // Writing into a broadcast view is refused.
    let x = NDArray::<f32, B>::zeros([3], b).expect("zeros");
    let e = x.expand([2, 3]).expect("expand");
    assert!(e.add_assign_checked(&x).is_err());
}

/// The fused `axpby_inplace` (`dst = α·dst + β·x`) on random views, against the same arithmetic
/// done element by element in `E` (so it is also checked against the composed default).
pub fn check_axpby<B: Backend>(b: &B) {
    fn one<E: Float, B: Backend>(b: &B, seed: u64) -> CaseResult {
        let mut rng = Rng(seed);
        let dims = rng.shape(4);
        let (dst, hd) = make_view::<E, B>(b, &mut rng, &dims, true, &mut |r| r.grid())?;
        let rx = rng.broadcastable(&dims);
        let (x, hx) = make_view::<E, B>(b, &mut rng, &rx, false, &mut |r| r.grid())?;
        let hx = hx.expand(&dims);
        let (alpha, beta) = (E::from_f64(rng.grid()), E::from_f64(rng.grid()));
        ok("axpby", dst.axpby_assign(alpha, &x, beta))?;
        let want: Vec<f64> = (0..hd.vals.len())
            .map(|k| (alpha * E::from_f64(hd.vals[k]) + beta * E::from_f64(hx.vals[k])).to_f64())
            .collect();
        let (r, a) = tol::<E>();
        compare(&format!("axpby {}", E::DTYPE), &to_f64(&dst)?, &want, r, a)
    }
    run("axpby f32", |s| one::<f32, B>(b, s));
    run("axpby f64", |s| one::<f64, B>(b, s));
}

trait AddAssignChecked {
    fn add_assign_checked(&self, rhs: &Self) -> crate::Result<()>;
}

impl<E: Element, B: Backend> AddAssignChecked for NDArray<E, B> {
    fn add_assign_checked(&self, rhs: &Self) -> crate::Result<()> {
        self.binary_assign(BinaryOp::Add, rhs)
    }
}

/// `where` with three broadcast operands.
pub fn check_where<B: Backend>(b: &B) {
    fn one<E: Element, B: Backend>(b: &B, seed: u64) -> CaseResult {
        let mut rng = Rng(seed);
        let out = rng.shape(4);
        let dc = rng.broadcastable(&out);
        let dt = rng.broadcastable(&out);
        let df = rng.broadcastable(&out);
        let out = broadcast_dims(&[&dc, &dt, &df]);
        let (c, hc) = make_view::<E, B>(b, &mut rng, &dc, false, &mut |r| r.below(2) as f64)?;
        let (t, ht) = make_view::<E, B>(b, &mut rng, &dt, false, &mut |r| r.grid())?;
        let (f, hf) = make_view::<E, B>(b, &mut rng, &df, false, &mut |r| r.grid())?;
        let z = ok("where", NDArray::where_cond(&c, &t, &f))?;
        let (hc, ht, hf) = (hc.expand(&out), ht.expand(&out), hf.expand(&out));
        let want: Vec<f64> = (0..numel(&out))
            .map(|i| {
                if hc.vals[i] != 0.0 {
                    ht.vals[i]
                } else {
                    hf.vals[i]
                }
            })
            .collect();
        check_result("where", &z, &out, &want)
    }
    run("where f32", |s| one::<f32, B>(b, s));
    run("where i64", |s| one::<i64, B>(b, s));
}

/// `lstm_cell` and its backward pass: the backend's fused kernels (if it has them) against the composed forms (the same
/// bits, as `LstmUnit` promises) and both against PyTorch's LSTM equations in f64 on the host.
pub fn check_lstm_cell<B: Backend>(b: &B) {
    fn one<E: Float, B: Backend>(b: &B, seed: u64) -> CaseResult {
        let mut rng = Rng(seed);
        // Hidden sizes past a vector's width too, so the kernels' vector loops run.
        let n = rng.dim();
        let hidden = if rng.chance(50) {
            rng.dim()
        } else {
            5 + rng.below(40)
        };
        let (pre, hp) = make_view::<E, B>(b, &mut rng, &[n, 4 * hidden], false, &mut |r| r.grid())?;
        let (c, hc) = make_view::<E, B>(b, &mut rng, &[n, hidden], false, &mut |r| r.grid())?;
        let save = rng.chance(70);
        let fused = ok("lstm_cell", NDArray::lstm_cell(&pre, &c, save))?;
        let composed = ok("lstm_cell", NDArray::lstm_cell_composed(&pre, &c, save))?;
        ensure(fused.saved.is_some() == save, || {
            "lstm_cell: factors returned exactly when asked for".into()
        })?;
        let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
        // h, c, qd ([n, 4·hidden], gates side by side), s_c, f: each unit's values computed once.
        let mut want: [Vec<f64>; 5] = Default::default();
        want[2] = vec![0.0; n * 4 * hidden];
        for r in 0..n {
            for j in 0..hidden {
                let slot = |k: usize| r * 4 * hidden + k * hidden + j;
                let p = |k: usize| hp.vals[slot(k)];
                let (i, f, g, o) = (sig(p(0)), sig(p(1)), p(2).tanh(), sig(p(3)));
                let c0 = hc.vals[r * hidden + j];
                let c1 = f * c0 + i * g;
                let tc = c1.tanh();
                want[0].push(o * tc);
                want[1].push(c1);
                want[2][slot(0)] = g * i * (1.0 - i);
                want[2][slot(1)] = c0 * f * (1.0 - f);
                want[2][slot(2)] = i * (1.0 - g * g);
                want[2][slot(3)] = tc * o * (1.0 - o);
                want[3].push(o * (1.0 - tc * tc));
                want[4].push(f);
            }
        }
        let mut outputs = vec![
            ("h", &fused.h, &composed.h, vec![n, hidden], &want[0]),
            ("c", &fused.c, &composed.c, vec![n, hidden], &want[1]),
        ];
        if let (Some(fs), Some(cs)) = (&fused.saved, &composed.saved) {
            outputs.push(("qd", &fs.qd, &cs.qd, vec![n, 4 * hidden], &want[2]));
            outputs.push(("s_c", &fs.s_c, &cs.s_c, vec![n, hidden], &want[3]));
            outputs.push(("f", &fs.f, &cs.f, vec![n, hidden], &want[4]));
        }
        let (want_qd, want_s_c, want_f) = (want[2].clone(), want[3].clone(), want[4].clone());
        for (what, got, composed, dims, want) in outputs {
            let (g, w) = (to_f64(got)?, to_f64(composed)?);
            ensure(
                g.iter().zip(&w).all(|(a, b)| a.to_bits() == b.to_bits()),
                || format!("lstm_cell {what}: fused {g:?} differs from composed {w:?}"),
            )?;
            check_result(&format!("lstm_cell {what}"), got, &dims, want)?;
        }
        let (Some(fs), Some(cs)) = (&fused.saved, &composed.saved) else {
            return Ok(());
        };
        // The backward pass from gradients of h' and c', against the composed form (same bits)
        // and the chain rule through the f64 factors above.
        let (dh, hdh) = make_view::<E, B>(b, &mut rng, &[n, hidden], false, &mut |r| r.grid())?;
        let (dc, hdc) = make_view::<E, B>(b, &mut rng, &[n, hidden], false, &mut |r| r.grid())?;
        let fused = ok("lstm_cell backward", fs.backward(&dh, &dc))?;
        let composed = ok("lstm_cell backward", cs.backward_composed(&dh, &dc))?;
        let mut want = [vec![0.0; n * 4 * hidden], Vec::new()];
        for r in 0..n {
            for j in 0..hidden {
                let at = r * hidden + j;
                let slot = |k: usize| r * 4 * hidden + k * hidden + j;
                let dc_all = hdh.vals[at] * want_s_c[at] + hdc.vals[at];
                for k in 0..3 {
                    want[0][slot(k)] = dc_all * want_qd[slot(k)];
                }
                want[0][slot(3)] = hdh.vals[at] * want_qd[slot(3)];
                want[1].push(dc_all * want_f[at]);
            }
        }
        let outputs = [
            (
                "d_pre",
                &fused.0,
                &composed.0,
                vec![n, 4 * hidden],
                &want[0],
            ),
            ("dc_prev", &fused.1, &composed.1, vec![n, hidden], &want[1]),
        ];
        for (what, got, composed, dims, want) in outputs {
            let (g, w) = (to_f64(got)?, to_f64(composed)?);
            ensure(
                g.iter().zip(&w).all(|(a, b)| a.to_bits() == b.to_bits()),
                || format!("lstm_cell backward {what}: fused {g:?} differs from composed {w:?}"),
            )?;
            check_result(&format!("lstm_cell backward {what}"), got, &dims, want)?;
        }
        Ok(())
    }
    run("lstm_cell f32", |s| one::<f32, B>(b, s));
    run("lstm_cell f64", |s| one::<f64, B>(b, s));
}
