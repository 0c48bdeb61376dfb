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
//!
//! Files: this one holds the runner, the seeded generator and the host-side reference views;
//! `elementwise.rs`, `reduce_matmul.rs` and `index_window.rs` hold the property families, and
//! `errors.rs` the error family ([`check_errors`]: each precondition mistake gives the variant
//! that `crate::checks` documents, on every backend).

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
        DType::I64 | DType::U8 | DType::Bool => (0.0, 0.0),
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

mod elementwise;
mod errors;
mod index_window;
mod recurrence;
mod reduce_matmul;

pub use elementwise::{
    check_axpby, check_binary, check_cast, check_copy, check_creation, check_inplace,
    check_lstm_cell, check_scalar, check_unary, check_where,
};
pub use errors::check_errors;
pub use index_window::{
    check_im2col, check_indexing, check_large, check_random, check_window_argmax,
};
pub use recurrence::check_lstm_recurrence;
pub use reduce_matmul::{check_arg_reduce, check_matmul, check_reduce};

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
    check_lstm_cell(backend);
    check_lstm_recurrence(backend);
    check_reduce(backend);
    check_arg_reduce(backend);
    check_matmul(backend);
    check_indexing(backend);
    check_im2col(backend);
    check_window_argmax(backend);
    check_random(backend);
    check_large(backend);
    check_errors(backend);
}
