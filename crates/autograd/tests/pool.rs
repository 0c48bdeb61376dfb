//! Pooling against PyTorch and against naive loops.
//!
//! `fixtures/pool.txt` (made once by `fixtures/make_pool.py` with PyTorch, f64) holds values,
//! indices and the gradient of `sum(out · w)`, `w = 1, 2, 3, …`, for inputs full of ties: an
//! all-equal window, two equal maxima, NaNs, −∞, windows in the padding, shared unpooling
//! indices. Our gradient must equal PyTorch's exactly: each max's whole gradient at its index.
//! The proptests compare forward values and indices with the loops PyTorch's CPU kernels run.

use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::Result;
use proptest::prelude::*;
use std::collections::HashMap;

type T = Tensor<f64, Cpu>;
type I = Tensor<i64, Cpu>;

const FIXTURE: &str = include_str!("fixtures/pool.txt");

/// One line of the fixture: its `key=value` fields.
struct Case(HashMap<String, String>);

impl Case {
    fn text(&self, key: &str) -> &str {
        self.0
            .get(key)
            .unwrap_or_else(|| panic!("no {key} in {:?}", self.0.get("op")))
    }

    fn numbers(&self, key: &str) -> Option<Vec<f64>> {
        self.0.get(key).map(|s| {
            s.split(',')
                .map(|v| v.parse().unwrap_or_else(|_| panic!("bad number {v:?}")))
                .collect()
        })
    }

    fn sizes(&self, key: &str) -> Vec<usize> {
        self.numbers(key)
            .unwrap_or_else(|| panic!("no {key}"))
            .into_iter()
            .map(|v| v as usize)
            .collect()
    }

    fn one(&self, key: &str) -> usize {
        self.sizes(key)[0]
    }

    fn two(&self, key: &str) -> (usize, usize) {
        let v = self.sizes(key);
        (v[0], v[1])
    }

    fn flag(&self, key: &str) -> bool {
        self.one(key) == 1
    }

    fn out(&self) -> Option<Vec<usize>> {
        (self.text("out") != "-").then(|| self.sizes("out"))
    }
}

fn cases() -> Vec<Case> {
    let cases: Vec<Case> = FIXTURE
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            Case(
                l.split(' ')
                    .map(|kv| {
                        let (k, v) = kv.split_once('=').expect("key=value");
                        (k.to_string(), v.to_string())
                    })
                    .collect(),
            )
        })
        .collect();
    assert!(cases.len() >= 25, "the fixture lost its cases");
    cases
}

/// Our call for a fixture line (PyTorch's is in make_pool.py).
fn run(c: &Case, x: &T) -> Result<(T, Option<I>)> {
    let div = || Some(c.one("div")).filter(|&d| d != 0);
    let norm = c.numbers("norm").map_or(0.0, |v| v[0]);
    let values = |t: Result<T>| t.map(|t| (t, None));
    let both = |r: Result<(T, I)>| r.map(|(v, i)| (v, Some(i)));
    let idx = || {
        I::from_vec(
            c.sizes("idx").iter().map(|&i| i as i64).collect(),
            x.dims().to_vec(),
            &Cpu,
        )
    };
    match c.text("op") {
        "max_pool2d" => both(x.max_pool2d_with_indices(
            c.two("k"),
            c.two("s"),
            c.two("p"),
            c.two("d"),
            c.flag("ceil"),
        )),
        "max_pool1d" => both(x.max_pool1d_with_indices(
            c.one("k"),
            c.one("s"),
            c.one("p"),
            c.one("d"),
            c.flag("ceil"),
        )),
        "avg_pool2d" => values(x.avg_pool2d_with(
            c.two("k"),
            c.two("s"),
            c.two("p"),
            c.flag("ceil"),
            c.flag("cip"),
            div(),
        )),
        "avg_pool1d" => values(x.avg_pool1d_with(
            c.one("k"),
            c.one("s"),
            c.one("p"),
            c.flag("ceil"),
            c.flag("cip"),
        )),
        "adaptive_avg_pool2d" => values(x.adaptive_avg_pool2d(c.two("out"))),
        "adaptive_avg_pool1d" => values(x.adaptive_avg_pool1d(c.one("out"))),
        "adaptive_max_pool2d" => both(x.adaptive_max_pool2d_with_indices(c.two("out"))),
        "adaptive_max_pool1d" => both(x.adaptive_max_pool1d_with_indices(c.one("out"))),
        "max_unpool2d" => values(x.max_unpool2d(
            &idx()?,
            c.two("k"),
            c.two("s"),
            c.two("p"),
            c.out().map(|o| (o[0], o[1])),
        )),
        "max_unpool1d" => values(x.max_unpool1d(
            &idx()?,
            c.one("k"),
            c.one("s"),
            c.one("p"),
            c.out().map(|o| o[0]),
        )),
        "lp_pool2d" => values(x.lp_pool2d(norm, c.two("k"), c.two("s"), c.flag("ceil"))),
        "lp_pool1d" => values(x.lp_pool1d(norm, c.one("k"), c.one("s"), c.flag("ceil"))),
        other => panic!("fixture op {other:?} has no call in pool.rs"),
    }
}

/// Equal as PyTorch's numbers are: NaN matches NaN, infinities exactly, finite values within
/// rounding (an average divides in another order).
fn same(got: &[f64], want: &[f64]) -> bool {
    let close = |g: f64, w: f64| {
        (g.is_nan() && w.is_nan())
            || g == w
            || (g.is_finite() && (g - w).abs() <= 1e-12 * (1.0 + w.abs()))
    };
    got.len() == want.len() && got.iter().zip(want).all(|(&g, &w)| close(g, w))
}

#[test]
fn values_indices_and_gradients_match_pytorch() -> Result<()> {
    for c in cases() {
        let line = format!("{:?}", c.0);
        let x =
            T::from_vec(c.numbers("x").expect("x"), c.sizes("shape"), &Cpu)?.requires_grad_(true);
        let (out, index) = run(&c, &x)?;
        assert_eq!(out.dims(), c.sizes("vshape"), "shape of {line}");
        let got = out.to_vec()?;
        assert!(
            same(&got, &c.numbers("value").expect("value")),
            "values {got:?} of {line}"
        );
        if let Some(want) = c.numbers("index") {
            let got: Vec<f64> = index
                .expect("indices")
                .to_vec()?
                .into_iter()
                .map(|i| i as f64)
                .collect();
            assert_eq!(got, want, "indices of {line}");
        }
        let w: Vec<f64> = (1..=out.numel()).map(|i| i as f64).collect();
        out.mul(&T::from_vec(w, out.dims().to_vec(), &Cpu)?)?
            .sum()?
            .backward()?;
        let grad = x.grad().expect("a gradient").to_vec()?;
        assert!(
            same(&grad, &c.numbers("grad").expect("grad")),
            "gradient {grad:?} of {line}"
        );
    }
    Ok(())
}

/// PyTorch's `pooling_output_shape`, or `None` where it refuses.
fn naive_out(size: usize, k: usize, s: usize, p: usize, d: usize, ceil: bool) -> Option<usize> {
    if 2 * p > k {
        return None;
    }
    let span = size as i64 + 2 * p as i64 - (d * (k - 1)) as i64 - 1;
    let mut out = if ceil {
        (span + s as i64 - 1).div_euclid(s as i64)
    } else {
        span.div_euclid(s as i64)
    } + 1;
    if ceil && (out - 1) * s as i64 >= (size + p) as i64 {
        out -= 1;
    }
    (out >= 1).then_some(out as usize)
}

/// PyTorch's CPU max-pool loop over one `[h, w]` plane: `val > max || isnan(val)` in window
/// order from `max = −∞` at the window's first position inside the input.
fn naive_max(
    x: &[f64],
    (h, w): (usize, usize),
    k: [usize; 2],
    s: [usize; 2],
    p: [usize; 2],
    d: [usize; 2],
    out: (usize, usize),
) -> Vec<(f64, i64)> {
    let mut res = vec![];
    for oi in 0..out.0 {
        for oj in 0..out.1 {
            let (mut best, mut at) = (f64::NEG_INFINITY, None);
            for a in 0..k[0] {
                for b in 0..k[1] {
                    let r = (oi * s[0] + a * d[0]) as i64 - p[0] as i64;
                    let c = (oj * s[1] + b * d[1]) as i64 - p[1] as i64;
                    if r < 0 || c < 0 || r >= h as i64 || c >= w as i64 {
                        continue;
                    }
                    let i = r * w as i64 + c;
                    let v = x[i as usize];
                    at = at.or(Some(i));
                    if v > best || v.is_nan() {
                        (best, at) = (v, Some(i));
                    }
                }
            }
            res.push((best, at.expect("a window inside the input")));
        }
    }
    res
}

/// Small integers (many ties) and, now and then, a NaN or −∞.
fn values(n: usize) -> impl Strategy<Value = Vec<f64>> {
    let v = prop_oneof![8 => (0i32..3).prop_map(f64::from), 1 => Just(f64::NAN), 1 => Just(f64::NEG_INFINITY)];
    prop::collection::vec(v, n)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn max_pool2d_follows_pytorchs_loop(
        (h, w) in (1usize..7, 1usize..7),
        k in (1usize..4, 1usize..4), s in (1usize..4, 1usize..4),
        p in (0usize..2, 0usize..2), d in (1usize..3, 1usize..3), ceil: bool,
        seed in values(2 * 6 * 6),
    ) {
        let x = T::from_vec(seed[..2 * h * w].to_vec(), [1, 2, h, w], &Cpu).unwrap();
        let out = (naive_out(h, k.0, s.0, p.0, d.0, ceil), naive_out(w, k.1, s.1, p.1, d.1, ceil));
        let got = x.max_pool2d_with_indices(k, s, p, d, ceil);
        let (Some(oh), Some(ow)) = out else {
            prop_assert!(got.is_err(), "{out:?} should be refused");
            return Ok(());
        };
        // A window wholly in the padding (possible with dilation) has no PyTorch answer.
        let all_pad = (0..oh).any(|i| (0..k.0).all(|a| ((i * s.0 + a * d.0) as i64 - p.0 as i64) < 0 || (i * s.0 + a * d.0) - p.0 >= h))
            || (0..ow).any(|j| (0..k.1).all(|b| ((j * s.1 + b * d.1) as i64 - p.1 as i64) < 0 || (j * s.1 + b * d.1) - p.1 >= w));
        prop_assume!(!all_pad);
        let (v, i) = got.unwrap();
        prop_assert_eq!(v.dims(), &[1, 2, oh, ow]);
        let (v, i) = (v.to_vec().unwrap(), i.to_vec().unwrap());
        let data = x.to_vec().unwrap();
        for c in 0..2 {
            let want = naive_max(&data[c * h * w..(c + 1) * h * w], (h, w), [k.0, k.1], [s.0, s.1], [p.0, p.1], [d.0, d.1], (oh, ow));
            for (o, (wv, wi)) in want.into_iter().enumerate() {
                let (gv, gi) = (v[c * oh * ow + o], i[c * oh * ow + o]);
                prop_assert!((gv.is_nan() && wv.is_nan()) || gv == wv, "value {} vs {}", gv, wv);
                prop_assert_eq!(gi, wi);
            }
        }
    }

    #[test]
    fn avg_pool2d_follows_pytorchs_loop(
        (h, w) in (1usize..7, 1usize..7),
        k in (1usize..4, 1usize..4), s in (1usize..4, 1usize..4),
        p in (0usize..2, 0usize..2), ceil: bool, count_include_pad: bool,
        divisor in prop::option::of(1usize..5),
        data in prop::collection::vec(-3.0f64..3.0, 36),
    ) {
        let x = T::from_vec(data[..h * w].to_vec(), [1, 1, h, w], &Cpu).unwrap();
        let got = x.avg_pool2d_with(k, s, p, ceil, count_include_pad, divisor);
        let (Some(oh), Some(ow)) = (naive_out(h, k.0, s.0, p.0, 1, ceil), naive_out(w, k.1, s.1, p.1, 1, ceil)) else {
            prop_assert!(got.is_err());
            return Ok(());
        };
        let got = got.unwrap().to_vec().unwrap();
        for oi in 0..oh {
            for oj in 0..ow {
                // avg_pool2d_out_frame of PyTorch's CPU kernel, as written there.
                let (hs, ws) = ((oi * s.0) as i64 - p.0 as i64, (oj * s.1) as i64 - p.1 as i64);
                let (he, we) = ((hs + k.0 as i64).min((h + p.0) as i64), (ws + k.1 as i64).min((w + p.1) as i64));
                let pool = (he - hs) * (we - ws);
                let (hs, ws, he, we) = (hs.max(0), ws.max(0), he.min(h as i64), we.min(w as i64));
                let mut sum = 0.0;
                for r in hs..he {
                    for c in ws..we {
                        sum += data[(r * w as i64 + c) as usize];
                    }
                }
                let n = divisor.map_or(if count_include_pad { pool } else { (he - hs) * (we - ws) }, |d| d as i64);
                let want = sum / n as f64;
                prop_assert!((got[oi * ow + oj] - want).abs() < 1e-12, "{} vs {}", got[oi * ow + oj], want);
            }
        }
    }

    #[test]
    fn adaptive_pools_use_pytorchs_windows(
        (h, w) in (1usize..8, 1usize..8), (oh, ow) in (1usize..6, 1usize..6),
        data in values(49),
    ) {
        let x = T::from_vec(data[..h * w].to_vec(), [1, 1, h, w], &Cpu).unwrap();
        let (avg, (max, index)) = (
            x.adaptive_avg_pool2d((oh, ow)).unwrap().to_vec().unwrap(),
            x.adaptive_max_pool2d_with_indices((oh, ow)).unwrap(),
        );
        let (max, index) = (max.to_vec().unwrap(), index.to_vec().unwrap());
        let window = |i: usize, out: usize, size: usize| (i * size / out)..((i + 1) * size).div_ceil(out);
        for i in 0..oh {
            for j in 0..ow {
                let cells: Vec<usize> = window(i, oh, h).flat_map(|r| window(j, ow, w).map(move |c| r * w + c)).collect();
                let mean = cells.iter().map(|&c| data[c]).sum::<f64>() / cells.len() as f64;
                let o = i * ow + j;
                prop_assert!((avg[o].is_nan() && mean.is_nan()) || avg[o] == mean || (avg[o] - mean).abs() < 1e-12);
                let (mut best, mut at) = (f64::NEG_INFINITY, cells[0]);
                for &c in &cells {
                    if data[c] > best || data[c].is_nan() {
                        (best, at) = (data[c], c);
                    }
                }
                prop_assert_eq!(index[o], at as i64);
                prop_assert!((max[o].is_nan() && best.is_nan()) || max[o] == best);
            }
        }
    }
}

#[test]
fn empty_batches_and_empty_adaptive_outputs_have_pytorchs_shapes() -> Result<()> {
    // torch: max_pool2d of [0, 2, 4, 4] is [0, 2, 2, 2]; adaptive pooling to 0 rows is empty.
    let none = T::zeros([0, 2, 4, 4], &Cpu)?;
    assert_eq!(none.max_pool2d((2, 2), (2, 2))?.dims(), &[0, 2, 2, 2]);
    assert_eq!(none.avg_pool2d((2, 2), (2, 2))?.dims(), &[0, 2, 2, 2]);
    let x = T::ones([1, 2, 4, 4], &Cpu)?;
    assert_eq!(x.adaptive_avg_pool2d((0, 1))?.dims(), &[1, 2, 0, 1]);
    assert_eq!(x.adaptive_max_pool2d((2, 0))?.dims(), &[1, 2, 2, 0]);
    Ok(())
}
