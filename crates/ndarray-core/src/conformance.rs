//! The backend conformance suite: generic property tests that any [`Backend`] runs against plain
//! host references written here (index arithmetic over `Vec`s and the op enums' reference
//! definitions: [`UnaryOp::eval_f64`], [`BinaryOp::eval`], [`ReduceOp::combine`]).
//!
//! A backend's integration test calls [`check_all`] (or one family at a time). Each family is a
//! proptest run with [`cases`] cases (env var `NANOTORCH_PROPTEST_CASES`, default 128). Inputs are
//! random shapes (with size-0 and size-1 axes, and 0-d arrays) seen through random views: a
//! contiguous base array is sliced with steps, permuted and expanded, and the same view is built
//! independently on the host side, so the suite also tests `NDArray`'s view logic. Every check
//! goes through `NDArray` methods where one exists.
//!
//! Failures panic with the proptest report (the minimal failing case and the message).

use crate::{
    random::sample_at, ArgReduceOp, Backend, BinaryOp, DType, Element, Error, Float, NDArray,
    RandomDist, ReduceOp, ScalarSide, UnaryOp, Window2d,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

type CaseResult = std::result::Result<(), TestCaseError>;

/// Proptest cases per family: `NANOTORCH_PROPTEST_CASES`, default 128 (the whole suite takes about a second on the CPU backend in the dev profile; 3000 cases take ~11 s).
pub fn cases() -> u32 {
    std::env::var("NANOTORCH_PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(128)
}

/// Runs `test` on `cases()` random seeds; panics with proptest's report on a failure.
fn run(name: &str, test: impl Fn(u64) -> CaseResult) {
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    if let Err(e) = runner.run(&any::<u64>(), test) {
        panic!("conformance `{name}` failed: {e}");
    }
}

fn ensure(cond: bool, msg: impl FnOnce() -> String) -> CaseResult {
    if cond {
        Ok(())
    } else {
        Err(TestCaseError::fail(msg()))
    }
}

fn ok<T>(what: &str, r: crate::Result<T>) -> std::result::Result<T, TestCaseError> {
    r.map_err(|e| TestCaseError::fail(format!("{what}: unexpected error: {e}")))
}

/// A small deterministic generator (SplitMix64) driven by the proptest seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(1);
        crate::random::splitmix64(self.0)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    /// A value on the grid k/8, k in -24..=24 (exact in every dtype, with ties and zeros).
    fn grid(&mut self) -> f64 {
        (self.below(49) as f64 - 24.0) / 8.0
    }
    fn dim(&mut self) -> usize {
        match self.below(10) {
            0 => 0,
            1 | 2 => 1,
            _ => 2 + self.below(3),
        }
    }
    fn shape(&mut self, max_rank: usize) -> Vec<usize> {
        let rank = self.below(max_rank + 1);
        (0..rank).map(|_| self.dim()).collect()
    }
    /// A shape that broadcasts to `target`: some leading axes dropped, some axes set to 1.
    fn broadcastable(&mut self, target: &[usize]) -> Vec<usize> {
        let drop = self.below(target.len() + 1);
        target[drop..]
            .iter()
            .map(|&d| if self.chance(25) { 1 } else { d })
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Host-side reference tensors

/// A logical tensor on the host: row-major values, plus for each element its position in the
/// base array it is a view of (for checking in-place writes).
#[derive(Clone, Debug)]
struct Host {
    dims: Vec<usize>,
    vals: Vec<f64>,
    src: Vec<usize>,
}

fn numel(dims: &[usize]) -> usize {
    dims.iter().product()
}

fn unravel(mut i: usize, dims: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; dims.len()];
    for a in (0..dims.len()).rev() {
        idx[a] = i % dims[a];
        i /= dims[a];
    }
    idx
}

fn ravel(idx: &[usize], dims: &[usize]) -> usize {
    idx.iter().zip(dims).fold(0, |acc, (&i, &d)| acc * d + i)
}

impl Host {
    fn new(dims: Vec<usize>, vals: Vec<f64>) -> Host {
        let src = (0..vals.len()).collect();
        Host { dims, vals, src }
    }
    fn gather_from(&self, dims: Vec<usize>, from: impl Fn(&[usize]) -> Vec<usize>) -> Host {
        let n = numel(&dims);
        let mut vals = Vec::with_capacity(n);
        let mut src = Vec::with_capacity(n);
        for i in 0..n {
            let j = ravel(&from(&unravel(i, &dims)), &self.dims);
            vals.push(self.vals[j]);
            src.push(self.src[j]);
        }
        Host { dims, vals, src }
    }
    fn slice(&self, axis: usize, start: usize, len: usize, step: usize) -> Host {
        let mut dims = self.dims.clone();
        dims[axis] = len;
        self.gather_from(dims, |idx| {
            let mut i = idx.to_vec();
            i[axis] = start + idx[axis] * step;
            i
        })
    }
    fn permute(&self, perm: &[usize]) -> Host {
        let dims = perm.iter().map(|&p| self.dims[p]).collect();
        self.gather_from(dims, |idx| {
            let mut i = vec![0; perm.len()];
            for (k, &p) in perm.iter().enumerate() {
                i[p] = idx[k];
            }
            i
        })
    }
    fn expand(&self, to: &[usize]) -> Host {
        let lead = to.len() - self.dims.len();
        self.gather_from(to.to_vec(), |idx| {
            idx[lead..]
                .iter()
                .zip(&self.dims)
                .map(|(&i, &d)| if d == 1 { 0 } else { i })
                .collect()
        })
    }
}

/// An array of logical shape `dims` built as a random view, and its host twin. `value` draws
/// base values; `writable` forbids the final expand (in-place destinations).
fn make_view<E: Element, B: Backend>(
    b: &B,
    rng: &mut Rng,
    dims: &[usize],
    writable: bool,
    value: &mut dyn FnMut(&mut Rng) -> f64,
) -> std::result::Result<(NDArray<E, B>, Host), TestCaseError> {
    let rank = dims.len();
    // 1. Axes to expand from size 1.
    let pre: Vec<usize> = dims
        .iter()
        .map(|&d| {
            if !writable && d != 1 && rng.chance(20) {
                1
            } else {
                d
            }
        })
        .collect();
    // 2. A permutation: the stored order is `pre` shuffled.
    let mut perm: Vec<usize> = (0..rank).collect();
    if rng.chance(50) {
        for i in (1..rank).rev() {
            perm.swap(i, rng.below(i + 1));
        }
    }
    let mut stored = vec![0; rank];
    for (i, &p) in perm.iter().enumerate() {
        stored[p] = pre[i];
    }
    // 3. Slices with steps: each stored axis comes from a bigger one.
    let mut cuts = Vec::new();
    let mut full = stored.clone();
    for (a, &d) in stored.iter().enumerate() {
        if rng.chance(40) {
            let step = 1 + rng.below(3);
            let start = rng.below(3);
            let end = if d == 0 {
                start
            } else {
                start + (d - 1) * step + 1
            };
            full[a] = end + rng.below(2);
            cuts.push((a, start, end, step, d));
        }
    }
    let vals: Vec<f64> = (0..numel(&full)).map(|_| value(rng)).collect();
    let vals: Vec<f64> = vals.into_iter().map(|v| E::from_f64(v).to_f64()).collect();
    let data: Vec<E> = vals.iter().map(|&v| E::from_f64(v)).collect();
    let mut arr = ok("from_vec", NDArray::from_vec(data, full.clone(), b))?;
    let mut host = Host::new(full, vals);
    for &(a, start, end, step, d) in &cuts {
        arr = ok("slice", arr.slice(a as isize, start, end, step))?;
        host = host.slice(a, start, d, step);
    }
    let iperm: Vec<isize> = perm.iter().map(|&p| p as isize).collect();
    arr = ok("permute", arr.permute(&iperm))?;
    host = host.permute(&perm);
    if pre != dims {
        arr = ok("expand", arr.expand(dims.to_vec()))?;
        host = host.expand(dims);
    }
    ensure(arr.dims() == dims && host.dims == dims, || {
        format!("view construction gave {:?}, wanted {dims:?}", arr.dims())
    })?;
    Ok((arr, host))
}

fn to_f64<E: Element, B: Backend>(
    a: &NDArray<E, B>,
) -> std::result::Result<Vec<f64>, TestCaseError> {
    Ok(ok("to_vec", a.to_vec())?
        .into_iter()
        .map(Element::to_f64)
        .collect())
}

fn tol<E: Element>() -> (f64, f64) {
    match E::DTYPE {
        DType::F32 => (2e-5, 2e-5),
        DType::F64 => (1e-12, 1e-12),
        DType::I64 => (0.0, 0.0),
    }
}

fn close(got: f64, want: f64, rtol: f64, atol: f64) -> bool {
    if want.is_nan() {
        return got.is_nan();
    }
    if want.is_infinite() || got.is_infinite() {
        return got == want;
    }
    (got - want).abs() <= atol + rtol * want.abs()
}

fn compare(what: &str, got: &[f64], want: &[f64], rtol: f64, atol: f64) -> CaseResult {
    ensure(got.len() == want.len(), || {
        format!("{what}: {} elements, expected {}", got.len(), want.len())
    })?;
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        ensure(close(g, w, rtol, atol), || {
            format!("{what}: element {i}: got {g}, expected {w}\n got {got:?}\nwant {want:?}")
        })?;
    }
    Ok(())
}

fn check_result<E: Element, B: Backend>(
    what: &str,
    got: &NDArray<E, B>,
    dims: &[usize],
    want: &[f64],
) -> CaseResult {
    ensure(got.dims() == dims, || {
        format!("{what}: shape {:?}, expected {dims:?}", got.dims())
    })?;
    let (r, a) = tol::<E>();
    compare(what, &to_f64(got)?, want, r, a)
}

fn broadcast_dims(shapes: &[&[usize]]) -> Vec<usize> {
    let rank = shapes.iter().map(|s| s.len()).max().unwrap_or(0);
    (0..rank)
        .map(|i| {
            shapes
                .iter()
                .filter_map(|s| (i + s.len()).checked_sub(rank).map(|j| s[j]))
                .fold(1, |acc, d| if d == 1 { acc } else { d })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The families

/// Every family, for f32 and f64 (and i64 where the op applies).
pub fn check_all<B: Backend>(backend: &B) {
    check_creation(backend);
    check_copy(backend);
    check_cast(backend);
    check_unary(backend);
    check_binary(backend);
    check_scalar(backend);
    check_inplace(backend);
    check_axpby(backend);
    check_where(backend);
    check_reduce(backend);
    check_arg_reduce(backend);
    check_matmul(backend);
    check_indexing(backend);
    check_im2col(backend);
    check_random(backend);
    check_large(backend);
}

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
        for op in BinaryOp::ALL {
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
        let op = BinaryOp::ALL[rng.below(BinaryOp::ALL.len())];
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
        let (h, w) = (if one_d { 1 } else { 1 + rng.below(6) }, 1 + rng.below(7));
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
