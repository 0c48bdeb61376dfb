//! Families of indexing, im2col/col2im, random fills, and large arrays.

use super::*;
use crate::Layout;

/// gather / scatter_add / index_select along a random axis, with index arrays that are views
/// themselves, and out-of-range indices returning `Error::IndexOutOfBounds`.
pub fn check_indexing<B: Backend>(b: &B) {
    fn one<E: Element, B: Backend>(b: &B, seed: u64) -> CaseResult {
        let mut rng = Rng(seed);
        let mut dims = rng.shape(3);
        if dims.is_empty() {
            dims.push(rng.dim());
        }
        let rank = dims.len();
        let axis = rng.below(rank);
        let size = dims[axis];
        let (x, hx) = make_view::<E, B>(b, &mut rng, &dims, false, &mut |r| r.grid())?;
        let mut idims: Vec<usize> = dims.iter().map(|&d| rng.below(d + 1)).collect();
        idims[axis] = if size == 0 { 0 } else { rng.dim() };
        let (ix, hi) =
            make_view::<i64, B>(b, &mut rng, &idims, false, &mut |r| r.below(size) as f64)?;
        // gather
        let g = ok("gather", x.gather(axis as isize, &ix))?;
        let want: Vec<f64> = (0..numel(&idims))
            .map(|p| {
                let mut idx = unravel(p, &idims);
                idx[axis] = hi.vals[p] as usize;
                hx.vals[ravel(&idx, &dims)]
            })
            .collect();
        check_result("gather", &g, &idims, &want)?;
        // scatter_add: src has the index's shape.
        let (src, hs) = make_view::<E, B>(b, &mut rng, &idims, false, &mut |r| r.grid())?;
        let sc = ok("scatter_add", x.scatter_add(axis as isize, &ix, &src))?;
        let mut acc: Vec<E> = hx.vals.iter().map(|&v| E::from_f64(v)).collect();
        for p in 0..numel(&idims) {
            let mut idx = unravel(p, &idims);
            idx[axis] = hi.vals[p] as usize;
            let o = ravel(&idx, &dims);
            acc[o] = ReduceOp::Sum.combine(acc[o], E::from_f64(hs.vals[p]));
        }
        let (r, a) = tol::<E>();
        compare(
            "scatter_add",
            &to_f64(&sc)?,
            &acc.iter().map(|v| v.to_f64()).collect::<Vec<_>>(),
            r,
            a + r * 8.0,
        )?;
        // index_select with a 1-D index view.
        let len = rng.dim();
        let (sel, hsel) = make_view::<i64, B>(
            b,
            &mut rng,
            &[if size == 0 { 0 } else { len }],
            false,
            &mut |r| r.below(size) as f64,
        )?;
        let out = ok("index_select", x.index_select(axis as isize, &sel))?;
        let mut odims = dims.clone();
        odims[axis] = hsel.vals.len();
        let want: Vec<f64> = (0..numel(&odims))
            .map(|p| {
                let mut idx = unravel(p, &odims);
                idx[axis] = hsel.vals[idx[axis]] as usize;
                hx.vals[ravel(&idx, &dims)]
            })
            .collect();
        check_result("index_select", &out, &odims, &want)?;
        // Out of range (or negative) indices are errors, never panics.
        if numel(&idims) > 0 {
            let bad_value = if rng.chance(50) {
                size as i64 + rng.below(3) as i64
            } else {
                -1
            };
            let bad_ix = ok("full", NDArray::<i64, B>::full(idims.clone(), bad_value, b))?;
            for (what, res) in [
                ("gather", x.gather(axis as isize, &bad_ix).map(|_| ())),
                (
                    "scatter_add",
                    x.scatter_add(axis as isize, &bad_ix, &src).map(|_| ()),
                ),
            ] {
                ensure(matches!(res, Err(Error::IndexOutOfBounds { .. })), || {
                    format!("{what} with index {bad_value} on axis of size {size}: {res:?}")
                })?;
            }
            let bad_sel = ok("full", NDArray::<i64, B>::full([2], bad_value, b))?;
            let res = x.index_select(axis as isize, &bad_sel);
            ensure(matches!(res, Err(Error::IndexOutOfBounds { .. })), || {
                format!("index_select with index {bad_value}: {res:?}")
            })?;
        }
        Ok(())
    }
    run("indexing f32", |s| one::<f32, B>(b, s));
    run("indexing f64", |s| one::<f64, B>(b, s));
    run("indexing i64", |s| one::<i64, B>(b, s));
}

/// im2col against a naive convolution-window reference, and col2im as its adjoint:
/// `<col2im(c), x> == <c, im2col(x)>`.
pub fn check_im2col<B: Backend>(b: &B) {
    fn one<E: Float, B: Backend>(b: &B, seed: u64) -> CaseResult {
        let mut rng = Rng(seed);
        let one_d = rng.chance(25);
        let (n, c) = (rng.below(3), 1 + rng.below(3));
        let (h, w) = (if one_d { 1 } else { 1 + rng.below(6) }, 1 + rng.below(20));
        let pick = |r: &mut Rng, lo: usize, hi: usize| lo + r.below(hi - lo + 1);
        let window = if one_d {
            Window2d {
                kernel: (1, pick(&mut rng, 1, 3)),
                stride: (1, pick(&mut rng, 1, 3)),
                padding: (0, pick(&mut rng, 0, 2)),
                dilation: (1, pick(&mut rng, 1, 2)),
            }
        } else {
            Window2d {
                kernel: (pick(&mut rng, 1, 3), pick(&mut rng, 1, 3)),
                stride: (pick(&mut rng, 1, 3), pick(&mut rng, 1, 3)),
                padding: (pick(&mut rng, 0, 2), pick(&mut rng, 0, 2)),
                dilation: (pick(&mut rng, 1, 2), pick(&mut rng, 1, 2)),
            }
        };
        let dims = [n, c, h, w];
        let (x, hx) = make_view::<E, B>(b, &mut rng, &dims, false, &mut |r| r.grid())?;
        let Some((oh, ow)) = window.output_size(h, w) else {
            ensure(x.im2col(&window).is_err(), || {
                format!("im2col must reject {window:?} on {h}x{w}")
            })?;
            return Ok(());
        };
        let (kh, kw) = window.kernel;
        let rows = c * kh * kw;
        let cols = ok("im2col", x.im2col(&window))?;
        let mut want = vec![0.0; n * rows * oh * ow];
        for ni in 0..n {
            for ci in 0..c {
                for ki in 0..kh {
                    for kj in 0..kw {
                        for oy in 0..oh {
                            for ox in 0..ow {
                                let iy = (oy * window.stride.0 + ki * window.dilation.0) as isize
                                    - window.padding.0 as isize;
                                let ix = (ox * window.stride.1 + kj * window.dilation.1) as isize
                                    - window.padding.1 as isize;
                                let inside =
                                    iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w;
                                let v = if inside {
                                    hx.vals[ravel(&[ni, ci, iy as usize, ix as usize], &dims)]
                                } else {
                                    0.0
                                };
                                let row = (ci * kh + ki) * kw + kj;
                                want[(ni * rows + row) * oh * ow + oy * ow + ox] = v;
                            }
                        }
                    }
                }
            }
        }
        check_result(
            &format!("im2col {window:?} of {dims:?}"),
            &cols,
            &[n, rows, oh * ow],
            &want,
        )?;
        // Both of the backend's layouts: the array layer above takes the tap-major one where the
        // backend has it, so `Backend::im2col` is checked here directly.
        let outer = ok("im2col", b.im2col(&x.storage(), x.layout(), &window))?;
        let outer = ok(
            "from_storage",
            NDArray::from_storage(outer, Layout::contiguous([n, rows, oh * ow]), b.clone()),
        )?;
        check_result("Backend::im2col", &outer, &[n, rows, oh * ow], &want)?;
        if let Some(tap_major) = b.im2col_tap_major(&x.storage(), x.layout(), &window) {
            let tap_major = ok("im2col_tap_major", tap_major)?;
            let layout = ok(
                "permute",
                Layout::contiguous([rows, n, oh * ow]).permute(&[1, 0, 2]),
            )?;
            let tap_major = ok(
                "from_storage",
                NDArray::from_storage(tap_major, layout, b.clone()),
            )?;
            check_result(
                "Backend::im2col_tap_major",
                &tap_major,
                &[n, rows, oh * ow],
                &want,
            )?;
        }
        // Adjoint: random columns (a view too) through col2im.
        let cdims = [n, rows, oh * ow];
        let (cv, hc) = make_view::<E, B>(b, &mut rng, &cdims, false, &mut |r| r.grid())?;
        let img = ok("col2im", cv.col2im(c, (h, w), &window))?;
        ensure(img.dims() == dims, || {
            format!("col2im shape {:?}", img.dims())
        })?;
        let lhs: f64 = to_f64(&img)?.iter().zip(&hx.vals).map(|(p, q)| p * q).sum();
        let rhs: f64 = hc.vals.iter().zip(&want).map(|(p, q)| p * q).sum();
        let mag: f64 = hc.vals.iter().zip(&want).map(|(p, q)| (p * q).abs()).sum();
        let (r, a) = tol::<E>();
        ensure(close(lhs, rhs, r, a + r * mag), || {
            format!(
                "col2im is not the adjoint of im2col for {window:?} on {dims:?}: {lhs} vs {rhs}"
            )
        })
    }
    run("im2col f32", |s| one::<f32, B>(b, s));
    run("im2col f64", |s| one::<f64, B>(b, s));
}

/// Max pooling's fused pick (`window_argmax`, where a backend has it) against PyTorch's rule run
/// on the host: from the fallback at −∞, a value wins if it is greater or NaN, in slot order.
/// Values come from a small grid, so windows are full of ties, and some are NaN or −∞.
pub fn check_window_argmax<B: Backend>(b: &B) {
    fn one<E: Float, B: Backend>(b: &B, seed: u64) -> CaseResult {
        let mut rng = Rng(seed);
        let (planes, plane) = (1 + rng.below(4), 1 + rng.below(9));
        // Up to 20 outputs, so a kernel that takes them in blocks sees a full block and a tail.
        let (outputs, window) = (1 + rng.below(20), 1 + rng.below(5));
        let vals: Vec<f64> = (0..planes * plane)
            .map(|_| match rng.below(10) {
                0 => f64::NAN,
                1 => f64::NEG_INFINITY,
                _ => rng.grid(),
            })
            .collect();
        // Slot `plane` is padding; the fallback is always a real position.
        let slots: Vec<i64> = (0..outputs * window)
            .map(|_| rng.below(plane + 1) as i64)
            .collect();
        let fallback: Vec<i64> = (0..outputs).map(|_| rng.below(plane) as i64).collect();
        let x = ok(
            "from_vec",
            NDArray::<E, B>::from_vec(
                vals.iter().map(|&v| E::from_f64(v)).collect(),
                [planes, plane],
                b,
            ),
        )?;
        let Some(picked) = x.window_argmax(&slots, &fallback) else {
            return Ok(());
        };
        let got = ok("window_argmax", picked.and_then(|p| p.to_vec()))?;
        for p in 0..planes {
            for l in 0..outputs {
                let (mut best, mut at) = (f64::NEG_INFINITY, fallback[l]);
                for k in 0..window {
                    let s = slots[k * outputs + l];
                    if let Some(&v) = vals[p * plane..(p + 1) * plane].get(s as usize) {
                        if v > best || v.is_nan() {
                            (best, at) = (v, s);
                        }
                    }
                }
                ensure(got[p * outputs + l] == at, || {
                    format!(
                        "window_argmax plane {p} output {l}: {} vs {at}",
                        got[p * outputs + l]
                    )
                })?;
            }
        }
        Ok(())
    }
    run("window_argmax f32", |s| one::<f32, B>(b, s));
    run("window_argmax f64", |s| one::<f64, B>(b, s));
}

/// Random fills equal `sample_at(dist, seed, i)` rounded to the element type, element by element.
pub fn check_random<B: Backend>(b: &B) {
    fn one<E: Float, B: Backend>(b: &B, seed: u64) -> CaseResult {
        let mut rng = Rng(seed);
        let dims = rng.shape(3);
        let fill_seed = rng.next();
        for dist in [
            RandomDist::Uniform {
                low: -2.0,
                high: 3.0,
            },
            RandomDist::Normal {
                mean: 0.5,
                std: 2.0,
            },
            RandomDist::Bernoulli { p: 0.3 },
        ] {
            let x = ok(
                "random",
                NDArray::<E, B>::random(dims.clone(), dist, fill_seed, b),
            )?;
            let got = ok("to_vec", x.to_vec())?;
            ensure(x.dims() == dims.as_slice(), || "random: wrong shape".into())?;
            for (i, &g) in got.iter().enumerate() {
                let w = E::from_f64(sample_at(dist, fill_seed, i as u64));
                ensure(g == w, || {
                    format!("random {dist:?} element {i}: got {g}, expected {w}")
                })?;
            }
            ensure(got.len() == numel(&dims), || "random: wrong length".into())?;
        }
        Ok(())
    }
    run("random f32", |s| one::<f32, B>(b, s));
    run("random f64", |s| one::<f64, B>(b, s));
}

/// A few big arrays (above any sensible threading threshold, ~300K elements): contiguous,
/// bias-broadcast and transposed element-wise ops, reductions over the last axis, the leading
/// axes and a middle axis, argmax, and a transposed copy, so split-across-threads paths are
/// checked against the reference too. Runs `cases() / 8` (at least 1) cases.
pub fn check_large<B: Backend>(b: &B) {
    let mut runner = TestRunner::new(Config {
        cases: (cases() / 8).max(1),
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&any::<u64>(), |seed| {
        let mut rng = Rng(seed);
        let (rows, cols) = (300 + rng.below(300), 700 + 2 * rng.below(150));
        let n = rows * cols;
        let xv: Vec<f64> = (0..n).map(|_| rng.grid()).collect();
        let bias: Vec<f64> = (0..cols).map(|_| rng.grid()).collect();
        let x = ok(
            "from_vec",
            NDArray::<f32, B>::from_vec(xv.iter().map(|&v| v as f32).collect(), [rows, cols], b),
        )?;
        let bb = ok(
            "from_vec",
            NDArray::<f32, B>::from_vec(bias.iter().map(|&v| v as f32).collect(), [cols], b),
        )?;
        // contiguous + broadcast row
        let y = ok("add", x.add(&bb))?;
        let want: Vec<f64> = (0..n).map(|i| xv[i] + bias[i % cols]).collect();
        check_result("large bias add", &y, &[rows, cols], &want)?;
        // contiguous * contiguous, exp
        let y = ok("mul", x.mul(&x))?;
        check_result(
            "large mul",
            &y,
            &[rows, cols],
            &xv.iter().map(|v| v * v).collect::<Vec<_>>(),
        )?;
        let y = ok("exp", x.exp())?;
        let want: Vec<f64> = xv.iter().map(|&v| (v as f32).exp() as f64).collect();
        check_result("large exp", &y, &[rows, cols], &want)?;
        // transposed copy and transposed + contiguous
        let t = ok("t", x.t())?;
        let tc = ok("copy", t.copy())?;
        let want_t: Vec<f64> = (0..n).map(|i| xv[(i % rows) * cols + i / rows]).collect();
        check_result("large transposed copy", &tc, &[cols, rows], &want_t)?;
        let y = ok("sub", t.sub(&tc))?;
        check_result("large transposed sub", &y, &[cols, rows], &vec![0.0; n])?;
        // [B, N] + [B, 1]
        let col = ok("narrow", x.narrow(1, 0, 1))?;
        let y = ok("add", x.add(&col))?;
        let want: Vec<f64> = (0..n).map(|i| xv[i] + xv[(i / cols) * cols]).collect();
        check_result("large column broadcast add", &y, &[rows, cols], &want)?;
        // reductions
        let mut row_sum = vec![0.0; rows];
        let mut col_sum = vec![0.0; cols];
        let mut col_max = vec![f64::NEG_INFINITY; cols];
        let mut row_abs = vec![0.0; rows];
        let mut col_abs = vec![0.0; cols];
        for i in 0..rows {
            for j in 0..cols {
                let v = xv[i * cols + j];
                row_sum[i] += v;
                col_sum[j] += v;
                row_abs[i] += v.abs();
                col_abs[j] += v.abs();
                col_max[j] = col_max[j].max(v);
            }
        }
        let (r, a) = tol::<f32>();
        let s1 = to_f64(&ok("sum", x.sum(&[1], false))?)?;
        for i in 0..rows {
            ensure(close(s1[i], row_sum[i], r, a + r * row_abs[i]), || {
                format!(
                    "large sum over last axis: row {i}: {} vs {}",
                    s1[i], row_sum[i]
                )
            })?;
        }
        let s0 = to_f64(&ok("sum", x.sum(&[0], false))?)?;
        for j in 0..cols {
            ensure(close(s0[j], col_sum[j], r, a + r * col_abs[j]), || {
                format!(
                    "large sum over leading axis: col {j}: {} vs {}",
                    s0[j], col_sum[j]
                )
            })?;
        }
        let m0 = to_f64(&ok("max", t.max(&[1], false))?)?;
        compare("large max over a strided axis", &m0, &col_max, 0.0, 0.0)?;
        let x3 = ok("reshape", x.reshape([rows, cols / 2, 2]))?;
        let mid = to_f64(&ok("sum", x3.sum(&[1], false))?)?;
        let half = cols / 2;
        for i in 0..rows {
            for k in 0..2 {
                let w: f64 = (0..half).map(|j| xv[i * cols + j * 2 + k]).sum();
                ensure(close(mid[i * 2 + k], w, r, a + r * row_abs[i]), || {
                    format!("large sum over a middle axis: {} vs {w}", mid[i * 2 + k])
                })?;
            }
        }
        let am = ok("argmax", t.argmax(Some(1), false))?;
        let am = ok("to_vec", am.to_vec())?;
        for j in 0..cols {
            let first = (0..rows)
                .find(|&i| xv[i * cols + j] == col_max[j])
                .unwrap_or(0);
            ensure(am[j] == first as i64, || {
                format!("large argmax column {j}: {} vs {first}", am[j])
            })?;
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("conformance `large` failed: {e}");
    }
}
