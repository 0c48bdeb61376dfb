//! Ties and kinks against PyTorch: every op's value, index and gradient exactly at the points
//! where the derivative is a choice (relu at 0, clamp at its bounds, a max with two winners, a
//! NaN maximum). The expected numbers come from `fixtures/ties.txt`, made once by
//! `fixtures/make_ties.py` with PyTorch; each case runs in the dtype PyTorch ran it in (f32 and
//! f64). The gradient is of `sum(out · w)` with `w = 1, 2, 3, …`, so a gradient sent to the
//! wrong element or split among ties shows. `docs/03b-gradients.md` ("Ties and kinks") is the
//! table of these rules.

use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::{Float, Result};
use std::collections::HashMap;

const FIXTURE: &str = include_str!("fixtures/ties.txt");

/// One line of the fixture: its `key=value` fields.
struct Case(HashMap<String, String>);

impl Case {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    fn name(&self) -> &str {
        self.get("name").expect("every case has a name")
    }

    fn numbers(&self, key: &str) -> Option<Vec<f64>> {
        self.get(key).map(|s| {
            s.split(',')
                .map(|v| v.parse().unwrap_or_else(|_| panic!("bad number {v:?}")))
                .collect()
        })
    }

    fn shape(&self) -> Vec<usize> {
        match self.get("shape").expect("every case has a shape") {
            "-" => vec![],
            s => s.split(',').map(|d| d.parse().expect("bad dim")).collect(),
        }
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
    assert!(cases.len() > 40, "the fixture lost its cases");
    cases
}

/// What an op gives back: values (differentiable), indices, or both.
type Out<E> = (Option<Tensor<E, Cpu>>, Option<Tensor<i64, Cpu>>);

fn values<E: Float>(t: Result<Tensor<E, Cpu>>) -> Result<Out<E>> {
    Ok((Some(t?), None))
}

fn both<E: Float>(r: Result<(Tensor<E, Cpu>, Tensor<i64, Cpu>)>) -> Result<Out<E>> {
    let (v, i) = r?;
    Ok((Some(v), Some(i)))
}

/// Our call for each fixture name (PyTorch's call is beside the same name in make_ties.py).
fn run<E: Float>(name: &str, x: &Tensor<E, Cpu>, y: Option<&Tensor<E, Cpu>>) -> Result<Out<E>> {
    let c = E::from_f64;
    match name {
        "relu" => values(x.relu()),
        "abs" => values(x.abs()),
        "sign" => values(x.sign()),
        "floor" => values(x.floor()),
        "round" => values(x.round()),
        "sqrt" => values(x.sqrt()),
        "leaky_relu_0.1" => values(x.leaky_relu(c(0.1))),
        "leaky_relu_-0.5" => values(x.leaky_relu(c(-0.5))),
        "elu_1.3" => values(x.elu(c(1.3))),
        "elu_1" => values(x.elu(c(1.0))),
        "celu_0.6" => values(x.celu(c(0.6))),
        "celu_1" => values(x.celu(c(1.0))),
        "selu" => values(x.selu()),
        "clamp_-1_1" => values(x.clamp(Some(c(-1.0)), Some(c(1.0)))),
        "clamp_min_-1" => values(x.clamp(Some(c(-1.0)), None)),
        "clamp_max_1" => values(x.clamp(None, Some(c(1.0)))),
        "hardtanh_-1_1" => values(x.hardtanh(c(-1.0), c(1.0))),
        "maximum_scalar_0.5" => values(x.maximum_scalar(c(0.5))),
        "minimum_scalar_0.5" => values(x.minimum_scalar(c(0.5))),
        "relu_as_maximum_scalar_0" => values(x.maximum_scalar(c(0.0))),
        "hardsigmoid" => values(x.hardsigmoid()),
        "hardswish" => values(x.hardswish()),
        "softplus_2_1.5" => values(x.softplus_with(c(2.0), c(1.5))),
        "maximum" => values(x.maximum(y.expect("two inputs"))),
        "minimum" => values(x.minimum(y.expect("two inputs"))),
        "max_all" => values(x.max_all()),
        "min_all" => values(x.min_all()),
        "amax_1" => values(x.max_dims(&[1], false)),
        "amin_0_keepdim" => values(x.min_dims(&[0], true)),
        "amax_all" => values(x.max_dims(&[], false)),
        "max_dim_1" => both(x.max_dim(1, false)),
        "max_dim_0_keepdim" => both(x.max_dim(0, true)),
        "min_dim_-1" => both(x.min_dim(-1, false)),
        "max_dim_0d" => both(x.max_dim(0, false)),
        "argmax_1" => Ok((None, Some(x.argmax(Some(1), false)?))),
        "argmin_1" => Ok((None, Some(x.argmin(Some(1), false)?))),
        "argmax_all" => Ok((None, Some(x.argmax(None, false)?))),
        "argmin_all" => Ok((None, Some(x.argmin(None, false)?))),
        "median_1" => both(x.median_dim(1, false)),
        "kthvalue_2_1" => both(x.kthvalue(2, 1, false)),
        "kthvalue_4_1" => both(x.kthvalue(4, 1, false)),
        other => panic!("fixture case {other:?} has no call in ties.rs"),
    }
}

/// Equal as PyTorch's numbers are: NaN matches NaN, infinities match exactly, and finite
/// values within a few ulps of f32 (PyTorch computes some constants, like `1/α`, in f32 even
/// for f64 tensors).
fn close(got: f64, want: f64) -> bool {
    if want.is_nan() || got.is_nan() {
        return want.is_nan() && got.is_nan();
    }
    if want.is_infinite() || got.is_infinite() {
        return got == want;
    }
    (got - want).abs() <= 1e-6 * (1.0 + want.abs())
}

fn assert_close(case: &str, what: &str, got: &[f64], want: &[f64]) {
    let ok = got.len() == want.len() && got.iter().zip(want).all(|(&g, &w)| close(g, w));
    assert!(ok, "{case}: {what} is {got:?}, PyTorch gives {want:?}");
}

/// Whether index `i` of the output may differ from PyTorch's: its slice of the input (along
/// `axis`, last axis here) holds the picked value more than once, where PyTorch leaves the
/// choice unspecified (median, kthvalue).
fn tie_in_slice(x: &[f64], len: usize, slice: usize, value: f64) -> bool {
    let row = &x[slice * len..(slice + 1) * len];
    row.iter().filter(|&&v| v == value).count() > 1
}

fn check_case<E: Float>(case: &Case) -> Result<()> {
    let name = case.name();
    let shape = case.shape();
    let make = |v: Vec<f64>| -> Result<Tensor<E, Cpu>> {
        let data: Vec<E> = v.into_iter().map(E::from_f64).collect();
        Ok(Tensor::from_vec(data, shape.clone(), &Cpu)?.requires_grad_(true))
    };
    let x_vals = case.numbers("x").expect("every case has x");
    let x = make(x_vals.clone())?;
    let y = case.numbers("y").map(make).transpose()?;
    let (out, index) = run::<E>(name, &x, y.as_ref())?;

    let unspecified_ties = name.starts_with("median") || name.starts_with("kthvalue");
    let want_values = case.numbers("value");
    if let Some(want) = case.numbers("index") {
        let got: Vec<f64> = index
            .expect("an op that returns indices")
            .to_vec()?
            .into_iter()
            .map(|i| i as f64)
            .collect();
        if unspecified_ties {
            // Only where the slice has one copy of the picked value; elsewhere the gradient
            // check below still holds our index to its value.
            let len = *shape.last().expect("rank >= 1");
            let picked = want_values.as_ref().expect("values");
            for (s, (&g, &w)) in got.iter().zip(&want).enumerate() {
                if !tie_in_slice(&x_vals, len, s, picked[s]) {
                    assert_eq!(g, w, "{name}: index of slice {s}");
                }
            }
        } else {
            assert_close(name, "index", &got, &want);
        }
    }
    let Some(want) = want_values else {
        return Ok(());
    };
    let out = out.expect("an op that returns values");
    let got: Vec<f64> = out.to_vec()?.into_iter().map(|v| v.to_f64()).collect();
    assert_close(name, "value", &got, &want);

    let w: Vec<E> = (1..=out.numel()).map(|i| E::from_f64(i as f64)).collect();
    let w = Tensor::from_vec(w, out.dims().to_vec(), &Cpu)?;
    out.mul(&w)?.sum()?.backward()?;
    let grad_of = |t: &Tensor<E, Cpu>| -> Result<Vec<f64>> {
        let g = t.grad().expect("the input took part in the output");
        Ok(g.to_vec()?.into_iter().map(|v| v.to_f64()).collect())
    };
    let want_grad = case.numbers("grad").expect("a case with values has grad");
    if unspecified_ties {
        // PyTorch's index on ties is its own; ours must get the whole weight at ours.
        let (len, picked) = (*shape.last().expect("rank >= 1"), &want);
        let index = run::<E>(name, &x.detach(), None)?
            .1
            .expect("indices")
            .to_vec()?;
        let mut expected = vec![0.0; x_vals.len()];
        for (s, &i) in index.iter().enumerate() {
            assert!(
                close(x_vals[s * len + i as usize], picked[s]),
                "{name}: index {i} of slice {s} does not hold the value"
            );
            expected[s * len + i as usize] = (s + 1) as f64;
        }
        assert_close(name, "grad", &grad_of(&x)?, &expected);
        assert_close(
            name,
            "grad (PyTorch's total)",
            &[expected.iter().sum()],
            &[want_grad.iter().sum()],
        );
    } else {
        assert_close(name, "grad", &grad_of(&x)?, &want_grad);
    }
    if let (Some(y), Some(want)) = (&y, case.numbers("grad_y")) {
        assert_close(name, "grad of the second input", &grad_of(y)?, &want);
    }
    Ok(())
}

fn check_dtype<E: Float>(tag: &str) {
    let mut seen = 0;
    for case in cases().iter().filter(|c| c.get("dtype") == Some(tag)) {
        check_case::<E>(case).unwrap_or_else(|e| panic!("{} ({tag}): {e}", case.name()));
        seen += 1;
    }
    assert!(seen > 20, "only {seen} {tag} cases in the fixture");
}

#[test]
fn ties_and_kinks_match_pytorch_f32() {
    check_dtype::<f32>("f32");
}

#[test]
fn ties_and_kinks_match_pytorch_f64() {
    check_dtype::<f64>("f64");
}

/// Integer tensors take the same picks (PyTorch's `max(dim)`, `median` and `kthvalue` accept
/// them): on tied data without NaN, the i64 results equal the f64 ones, whose rules the tests
/// above hold to PyTorch's numbers.
#[test]
fn integer_tensors_pick_the_same_indices() -> Result<()> {
    let data = [1i64, 3, 3, 2, 2, 0, 5, 5, 4, 4, 1, 1];
    let xi = Tensor::from_vec(data.to_vec(), [3, 4], &Cpu)?;
    let xf = Tensor::from_vec(data.iter().map(|&v| v as f64).collect(), [3, 4], &Cpu)?;
    type Pick<E> = fn(&Tensor<E, Cpu>) -> Result<(Tensor<E, Cpu>, Tensor<i64, Cpu>)>;
    let picks: [(Pick<i64>, Pick<f64>); 4] = [
        (|x| x.max_dim(1, false), |x| x.max_dim(1, false)),
        (|x| x.min_dim(0, true), |x| x.min_dim(0, true)),
        (|x| x.median_dim(1, false), |x| x.median_dim(1, false)),
        (|x| x.kthvalue(3, 1, false), |x| x.kthvalue(3, 1, false)),
    ];
    for (int_pick, float_pick) in picks {
        let (vi, ii) = int_pick(&xi)?;
        let (vf, jf) = float_pick(&xf)?;
        let vf: Vec<i64> = vf.to_vec()?.into_iter().map(|v| v as i64).collect();
        assert_eq!((vi.to_vec()?, ii.to_vec()?), (vf, jf.to_vec()?));
    }
    Ok(())
}

#[test]
fn bad_arguments_are_errors_that_name_the_op() {
    let x = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0], [4], &Cpu).unwrap();
    let empty = Tensor::<f64, Cpu>::zeros([2, 0], &Cpu).unwrap();
    let scalar = Tensor::scalar(1.0f64, &Cpu).unwrap();
    let errors = [
        ("max", empty.max_dim(1, false).err()),
        ("min", x.min_dim(1, false).err()),
        ("max", scalar.max_dim(1, false).err()),
        ("kthvalue", x.kthvalue(0, 0, false).err()),
        ("kthvalue", x.kthvalue(5, 0, false).err()),
        ("median", x.median_dim(-2, false).err()),
        ("median", empty.median_dim(1, true).err()),
    ];
    for (op, err) in errors {
        let msg = err
            .unwrap_or_else(|| panic!("{op}: bad input accepted"))
            .to_string();
        assert!(msg.starts_with(op), "{op}: error {msg:?} does not name it");
    }
}
