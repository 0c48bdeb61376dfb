//! Gradient checks of every differentiable op: f64, central differences, proptest-chosen shapes
//! (broadcasting pairs, size-1 axes, 0-d) and values kept away from points where an op is not
//! differentiable. `every_listed_op_has_a_case` fails if an op in `DIFFERENTIABLE_OPS` has no case.
//!
//! Case count: `NANOTORCH_PROPTEST_CASES` (default 12 per op).

use nanotorch_autograd::{
    gradcheck, manual_seed, GradcheckOptions, Tensor, CONV_OPS, DIFFERENTIABLE_OPS, POOL_OPS,
};
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::{BinaryOp, Bool, Domain, Result, UnaryOp, Window2d};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};

#[path = "gradcheck/conv.rs"]
mod conv_cases;
#[path = "gradcheck/pool.rs"]
mod pool_cases;

type T = Tensor<f64, Cpu>;
type OpFn = fn(&[T]) -> Result<T>;

/// How a case draws its inputs.
#[derive(Clone, Copy)]
enum Inputs {
    /// One tensor of any shape, values with |x| in [0.1, 2].
    Any,
    /// One tensor of any shape, values in [0.2, 2].
    Positive,
    /// One tensor with every axis of size 2 or 3 and rank ≥ 1 (reductions, softmax, slicing).
    AtLeast2,
    /// Two tensors of shapes that broadcast together; `true`: the right one positive.
    Pair(bool),
    /// Two tensors, the left positive (pow's base).
    PositiveBase,
    /// Hand-built inputs for a case with its own shape rules.
    Custom(fn(&mut TestRunner) -> Vec<T>),
}

fn away_from_zero() -> impl Strategy<Value = f64> {
    (0.1f64..2.0, any::<bool>()).prop_map(|(m, neg)| if neg { -m } else { m })
}

fn tensor_of(shape: Vec<usize>, values: BoxedStrategy<f64>) -> impl Strategy<Value = T> {
    let n: usize = shape.iter().product();
    prop::collection::vec(values, n).prop_map(move |v| {
        Tensor::from_vec(v, shape.clone(), &Cpu)
            .unwrap()
            .requires_grad_(true)
    })
}

fn any_shape() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..=3, 0..=3)
}

fn strategy(kind: Inputs) -> BoxedStrategy<Vec<T>> {
    match kind {
        Inputs::Any => any_shape()
            .prop_flat_map(|s| tensor_of(s, away_from_zero().boxed()))
            .prop_map(|t| vec![t])
            .boxed(),
        Inputs::Positive => any_shape()
            .prop_flat_map(|s| tensor_of(s, (0.2f64..2.0).boxed()))
            .prop_map(|t| vec![t])
            .boxed(),
        Inputs::AtLeast2 => prop::collection::vec(2usize..=3, 1..=3)
            .prop_flat_map(|s| tensor_of(s, away_from_zero().boxed()))
            .prop_map(|t| vec![t])
            .boxed(),
        Inputs::Pair(rhs_positive) => broadcast_pair(false, rhs_positive),
        Inputs::PositiveBase => broadcast_pair(true, false),
        Inputs::Custom(_) => unreachable!("custom inputs are built by their own function"),
    }
}

/// Two tensors whose shapes broadcast: a full shape, then each operand keeps a suffix of it
/// (dropping leading axes) with some axes set to 1.
fn broadcast_pair(lhs_positive: bool, rhs_positive: bool) -> BoxedStrategy<Vec<T>> {
    let flags = || prop::collection::vec(any::<bool>(), 3);
    (any_shape(), flags(), flags(), 0usize..=2, 0usize..=2)
        .prop_flat_map(move |(full, ones_l, ones_r, drop_l, drop_r)| {
            let make = |ones: &[bool], drop: usize| -> Vec<usize> {
                let kept = &full[drop.min(full.len())..];
                kept.iter()
                    .zip(ones)
                    .map(|(&d, &one)| if one { 1 } else { d })
                    .collect()
            };
            let value = |positive: bool| {
                if positive {
                    (0.2f64..2.0).boxed()
                } else {
                    away_from_zero().boxed()
                }
            };
            (
                tensor_of(make(&ones_l, drop_l), value(lhs_positive)),
                tensor_of(make(&ones_r, drop_r), value(rhs_positive)),
            )
        })
        .prop_map(|(a, b)| vec![a, b])
        .boxed()
}

fn cases_per_op() -> u32 {
    std::env::var("NANOTORCH_PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12)
}

fn check(name: &str, kind: Inputs, f: impl Fn(&[T]) -> Result<T>) {
    let mut runner = TestRunner::new(Config {
        cases: cases_per_op(),
        failure_persistence: None,
        ..Config::default()
    });
    let run = |inputs: Vec<T>| -> std::result::Result<(), TestCaseError> {
        gradcheck(&f, &inputs, GradcheckOptions::default()).map_err(|e| {
            TestCaseError::fail(format!(
                "{name}: {e} (input shapes {:?})",
                inputs.iter().map(|t| t.dims().to_vec()).collect::<Vec<_>>()
            ))
        })
    };
    let result = match kind {
        Inputs::Custom(make) => {
            let mut outcome = Ok(());
            for _ in 0..cases_per_op() {
                if let Err(e) = run(make(&mut runner)) {
                    outcome = Err(e);
                    break;
                }
            }
            outcome.map_err(|e| {
                proptest::test_runner::TestError::Fail(format!("{e}").into(), Vec::<T>::new())
            })
        }
        _ => runner.run(&strategy(kind), run),
    };
    if let Err(e) = result {
        panic!("gradcheck of `{name}` failed: {e}");
    }
}

/// Draws a value from a strategy with the runner's RNG (for custom inputs).
fn draw<S: Strategy>(runner: &mut TestRunner, s: S) -> S::Value {
    s.new_tree(runner).expect("strategy").current()
}

fn leaf(runner: &mut TestRunner, shape: &[usize]) -> T {
    draw(runner, tensor_of(shape.to_vec(), away_from_zero().boxed()))
}

/// Every case by op name: this file's table, then the families kept in their own files. A name
/// may appear more than once (different input rules).
fn cases() -> Vec<(&'static str, Inputs, OpFn)> {
    let mut cases = core_cases();
    cases.extend(conv_cases::cases());
    cases.extend(pool_cases::cases());
    cases
}

fn core_cases() -> Vec<(&'static str, Inputs, OpFn)> {
    use Inputs::*;
    vec![
        ("add_scalar", Any, |x| x[0].add_scalar(1.5)),
        ("sub_scalar", Any, |x| x[0].sub_scalar(1.5)),
        ("rsub_scalar", Any, |x| x[0].rsub_scalar(1.5)),
        ("mul_scalar", Any, |x| x[0].mul_scalar(-2.5)),
        ("div_scalar", Any, |x| x[0].div_scalar(4.0)),
        ("rdiv_scalar", Positive, |x| x[0].rdiv_scalar(3.0)),
        ("pow_scalar", Positive, |x| x[0].pow_scalar(2.5)),
        ("rpow_scalar", Any, |x| x[0].rpow_scalar(1.7)),
        ("maximum_scalar", Any, |x| x[0].maximum_scalar(0.05)),
        ("minimum_scalar", Any, |x| x[0].minimum_scalar(0.05)),
        ("leaky_relu", Any, |x| x[0].leaky_relu(0.1)),
        ("elu", Any, |x| x[0].elu(1.3)),
        ("clamp", Any, |x| x[0].clamp(Some(-0.95), Some(1.05))),
        ("hardtanh", Any, |x| x[0].hardtanh(-0.95, 1.05)),
        ("celu", Any, |x| x[0].celu(0.6)),
        ("softplus_with", Any, |x| x[0].softplus_with(2.0, 1.5)),
        ("softplus_with", Any, |x| x[0].softplus_with(0.5, 20.0)),
        ("clamp", Any, |x| x[0].clamp(None, Some(0.05))),
        ("sum", Custom(reduce_inputs), |x| {
            reduce_with(&x[0], |t, a, k| t.sum_dims(a, k))
        }),
        ("mean", Custom(reduce_inputs), |x| {
            reduce_with(&x[0], |t, a, k| t.mean_dims(a, k))
        }),
        ("prod", Custom(reduce_inputs), |x| {
            reduce_with(&x[0], |t, a, k| t.prod_dims(a, k))
        }),
        ("max", Custom(reduce_inputs), |x| {
            reduce_with(&x[0], |t, a, k| t.max_dims(a, k))
        }),
        ("min", Custom(reduce_inputs), |x| {
            reduce_with(&x[0], |t, a, k| t.min_dims(a, k))
        }),
        ("max_all", Any, |x| x[0].max_all()),
        ("min_all", Any, |x| x[0].min_all()),
        // Values and indices: only the values are differentiable; the index picks the input.
        ("max_dim", Any, |x| Ok(x[0].max_dim(-1, false)?.0)),
        ("max_dim", AtLeast2, |x| Ok(x[0].max_dim(0, true)?.0)),
        ("min_dim", Any, |x| Ok(x[0].min_dim(-1, true)?.0)),
        ("min_dim", AtLeast2, |x| Ok(x[0].min_dim(0, false)?.0)),
        ("median_dim", Any, |x| Ok(x[0].median_dim(-1, false)?.0)),
        ("median_dim", AtLeast2, |x| Ok(x[0].median_dim(0, true)?.0)),
        ("kthvalue", AtLeast2, |x| Ok(x[0].kthvalue(2, -1, false)?.0)),
        ("kthvalue", Any, |x| Ok(x[0].kthvalue(1, 0, true)?.0)),
        ("var", Custom(reduce_inputs), |x| {
            reduce_with(&x[0], |t, a, k| t.var_dims(a, 1, k))
        }),
        ("std", Custom(reduce_inputs), |x| {
            reduce_with(&x[0], |t, a, k| t.std_dims(a, 0, k))
        }),
        ("logsumexp", Custom(reduce_inputs), |x| {
            reduce_with(&x[0], |t, a, k| t.logsumexp(a, k))
        }),
        ("matmul", Custom(matmul_inputs), |x| x[0].matmul(&x[1])),
        // Transposed views on either side (Linear's x·Wᵀ): gradients are built in their layout.
        (
            "matmul",
            Custom(|r| vec![leaf(r, &[3, 2]), leaf(r, &[4, 2])]),
            |x| x[0].matmul(&x[1].t()?),
        ),
        (
            "matmul",
            Custom(|r| vec![leaf(r, &[2, 3]), leaf(r, &[2, 4])]),
            |x| x[0].t()?.matmul(&x[1]),
        ),
        ("reshape", Any, |x| x[0].reshape([x[0].numel()])),
        ("view", AtLeast2, |x| x[0].view([usize::MAX])),
        ("permute", AtLeast2, |x| {
            let perm: Vec<isize> = (0..x[0].rank() as isize).rev().collect();
            x[0].permute(&perm)
        }),
        ("transpose", AtLeast2, |x| x[0].transpose(0, -1)),
        (
            "t",
            Custom(|r| {
                let t = leaf(r, &[2, 3]);
                vec![t]
            }),
            |x| x[0].t(),
        ),
        (
            "expand",
            Custom(|r| {
                let t = leaf(r, &[3, 1]);
                vec![t]
            }),
            |x| x[0].expand([2, 3, 4]),
        ),
        (
            "squeeze",
            Custom(|r| {
                let t = leaf(r, &[2, 1, 3]);
                vec![t]
            }),
            |x| x[0].squeeze(1),
        ),
        ("unsqueeze", Any, |x| x[0].unsqueeze(0)),
        ("flatten", AtLeast2, |x| x[0].flatten(0, -1)),
        ("narrow", AtLeast2, |x| x[0].narrow(-1, 1, 1)),
        (
            "slice",
            Custom(|r| {
                let t = leaf(r, &[5, 3]);
                vec![t]
            }),
            |x| x[0].slice(0, 1, 5, 2),
        ),
        ("contiguous", AtLeast2, |x| {
            x[0].transpose(0, -1)?.contiguous()
        }),
        (
            "index_select",
            Custom(|r| {
                let t = leaf(r, &[4, 3]);
                vec![t]
            }),
            |x| {
                let index = Tensor::from_vec(vec![2i64, 0, 2], [3], &Cpu)?;
                x[0].index_select(0, &index)
            },
        ),
        (
            "gather",
            Custom(|r| {
                let t = leaf(r, &[3, 4]);
                vec![t]
            }),
            |x| {
                let index = Tensor::from_vec(vec![3i64, 0, 1, 1, 2, 2], [3, 2], &Cpu)?;
                x[0].gather(1, &index)
            },
        ),
        (
            "scatter_add",
            Custom(|r| vec![leaf(r, &[3, 4]), leaf(r, &[3, 2])]),
            |x| {
                let index = Tensor::from_vec(vec![3i64, 3, 1, 0, 2, 2], [3, 2], &Cpu)?;
                x[0].scatter_add(1, &index, &x[1])
            },
        ),
        (
            "cat",
            Custom(|r| vec![leaf(r, &[2, 3]), leaf(r, &[1, 3])]),
            |x| Tensor::cat(x, 0),
        ),
        (
            "stack",
            Custom(|r| vec![leaf(r, &[2, 3]), leaf(r, &[2, 3])]),
            |x| Tensor::stack(x, 1),
        ),
        ("split", Custom(|r| vec![leaf(r, &[5, 2])]), |x| {
            let parts = x[0].split(2, 0)?;
            parts[0]
                .sum_all()?
                .add(&parts[2].mul_scalar(3.0)?.sum_all()?)
        }),
        ("chunk", Custom(|r| vec![leaf(r, &[2, 6])]), |x| {
            let parts = x[0].chunk(3, 1)?;
            parts[1].mul(&parts[2])
        }),
        ("where", Pair(false), |x| {
            let cond = x[0].compare_scalar(BinaryOp::Gt, 0.0)?;
            Tensor::where_cond(&cond, &x[0], &x[1])
        }),
        ("masked_fill", Any, |x| {
            let mask = x[0].compare_scalar(BinaryOp::Lt, 0.0)?;
            x[0].masked_fill(&mask, 0.5)?.mul(&x[0])
        }),
        ("softmax", AtLeast2, |x| x[0].softmax(-1)),
        ("softmax", AtLeast2, |x| x[0].softmax(0)),
        ("log_softmax", AtLeast2, |x| x[0].log_softmax(-1)),
        ("log_softmax", AtLeast2, |x| x[0].log_softmax(0)),
        // A boolean condition and mask (PyTorch's kind), broadcast against the values.
        ("where", Pair(false), |x| {
            let cond = x[0].gt(0.0)?.cast::<Bool>()?;
            Tensor::where_cond(&cond, &x[0], &x[1])
        }),
        ("masked_fill", Pair(false), |x| {
            // The mask has x[1]'s shape and broadcasts to the shape of the sum.
            let full = x[0].add(&x[1])?;
            let mask = x[1].lt(0.0)?.cast::<Bool>()?;
            full.masked_fill(&mask, 0.5)?.mul(&full)
        }),
        ("tril", Custom(batch_of_matrices), |x| x[0].tril(0)),
        ("tril", Custom(batch_of_matrices), |x| x[0].tril(-1)),
        ("triu", Custom(batch_of_matrices), |x| x[0].triu(1)),
        ("triu", Custom(batch_of_matrices), |x| x[0].triu(-2)),
        ("repeat", Any, |x| x[0].repeat(&vec![2; x[0].rank()])),
        // More sizes than axes: new leading axes, and a size of 1 kept.
        ("repeat", Custom(|r| vec![leaf(r, &[2, 3])]), |x| {
            x[0].repeat(&[2, 1, 3])
        }),
        ("unbind", AtLeast2, |x| {
            // Pieces used unevenly, one twice and one not at all: the hub stacks zeros for it.
            let parts = x[0].unbind(0)?;
            parts[0].mul(&parts[1])?.add(&parts[0])
        }),
        ("unbind", AtLeast2, |x| Tensor::stack(&x[0].unbind(-1)?, 0)),
        // Rank 1 gets a leading axis: the causal mask needs [..., L, S].
        ("causal_softmax", AtLeast2, |x| match x[0].rank() {
            1 => x[0].unsqueeze(0)?.causal_softmax(0.7),
            _ => x[0].causal_softmax(0.7),
        }),
        ("select", AtLeast2, |x| x[0].select(0, 1)),
        ("select", AtLeast2, |x| x[0].select(-1, -2)),
        ("split_sizes", Custom(|r| vec![leaf(r, &[2, 6])]), |x| {
            let parts = x[0].split_sizes(&[1, 0, 3, 2], 1)?;
            parts[0]
                .mul(&parts[3].sum_dims(&[1], true)?)?
                .add(&parts[2])
        }),
        ("masked_select", Pair(false), |x| {
            // Both operands broadcast: values picked from x[0]'s copies where x[1] < 0.
            let mask = x[1].lt(0.0)?.cast::<Bool>()?;
            x[0].masked_select(&mask)
        }),
        ("topk", AtLeast2, |x| Ok(x[0].topk(2, -1, true, true)?.0)),
        ("topk", AtLeast2, |x| Ok(x[0].topk(1, 0, false, false)?.0)),
        ("cumsum", Any, |x| x[0].cumsum(-1)),
        ("cumsum", AtLeast2, |x| x[0].cumsum(0)),
        // Long enough for several scan rounds, through the reverse scan's own backward.
        ("cumsum", Custom(|r| vec![leaf(r, &[2, 11])]), |x| {
            x[0].cumsum(1)?.square()
        }),
        ("bmm", Custom(bmm_inputs), |x| x[0].bmm(&x[1])),
        (
            "baddbmm",
            Custom(|r| vec![leaf(r, &[3]), leaf(r, &[2, 2, 4]), leaf(r, &[2, 4, 3])]),
            |x| x[0].baddbmm(&x[1], &x[2], 0.5, 2.0),
        ),
        // Broadcast batch axes in the product and in the input.
        (
            "baddbmm",
            Custom(|r| {
                vec![
                    leaf(r, &[1, 3, 1, 2]),
                    leaf(r, &[2, 1, 2, 3]),
                    leaf(r, &[3, 3, 2]),
                ]
            }),
            |x| x[0].baddbmm(&x[1], &x[2], -1.5, 1.0),
        ),
        // A bias row (the fused path), a full input, and the scaled (composed) path.
        (
            "addmm",
            Custom(|r| vec![leaf(r, &[3]), leaf(r, &[2, 4]), leaf(r, &[4, 3])]),
            |x| x[0].addmm(&x[1], &x[2], 1.0, 1.0),
        ),
        (
            "addmm",
            Custom(|r| vec![leaf(r, &[2, 3]), leaf(r, &[2, 4]), leaf(r, &[3, 4])]),
            |x| x[0].addmm(&x[1], &x[2].t()?, 1.0, 1.0),
        ),
        (
            "addmm",
            Custom(|r| vec![leaf(r, &[2, 1]), leaf(r, &[2, 4]), leaf(r, &[4, 3])]),
            |x| x[0].addmm(&x[1], &x[2], 0.5, -2.0),
        ),
        ("dropout", Any, |x| {
            // The same mask on every evaluation: reseed before drawing it.
            manual_seed(7);
            x[0].dropout(0.3, true)
        }),
    ]
}

/// A batch of matrices: 0 to 2 leading axes, then rows and cols of 1 to 4 (square and not).
fn batch_of_matrices(runner: &mut TestRunner) -> Vec<T> {
    let mut shape = draw(runner, prop::collection::vec(1usize..=2, 0..=2));
    shape.extend([draw(runner, 1usize..=4), draw(runner, 1usize..=4)]);
    vec![leaf(runner, &shape)]
}

/// Two operands for `bmm`: equal batches, or batch axes that broadcast ([2, 1] with [3]).
fn bmm_inputs(runner: &mut TestRunner) -> Vec<T> {
    let (m, k, n) = (
        draw(runner, 1usize..=3),
        draw(runner, 1usize..=3),
        draw(runner, 1usize..=3),
    );
    let (a, b): (Vec<usize>, Vec<usize>) = match draw(runner, 0usize..3) {
        0 => (vec![2, m, k], vec![2, k, n]),
        1 => (vec![2, 1, m, k], vec![3, k, n]),
        _ => (vec![1, m, k], vec![3, k, n]),
    };
    vec![leaf(runner, &a), leaf(runner, &b)]
}

fn reduce_inputs(runner: &mut TestRunner) -> Vec<T> {
    let shape = draw(runner, prop::collection::vec(2usize..=3, 1..=3));
    vec![leaf(runner, &shape)]
}

/// Reduces over a pseudo-random axis set chosen from the input's values, so the same input gets
/// the same axes on every evaluation inside gradcheck.
fn reduce_with(x: &T, f: impl Fn(&T, &[isize], bool) -> Result<T>) -> Result<T> {
    let seed = (x.numel() * 7 + x.rank() * 3 + x.dims()[0]) as u32;
    let axes: Vec<isize> = (0..x.rank())
        .filter(|i| seed & (1 << i) != 0)
        .map(|i| i as isize)
        .collect();
    f(x, &axes, seed & 8 != 0)
}

fn matmul_inputs(runner: &mut TestRunner) -> Vec<T> {
    let (m, k, n) = (
        draw(runner, 1usize..=3),
        draw(runner, 1usize..=3),
        draw(runner, 1usize..=3),
    );
    let pattern = draw(runner, 0usize..6);
    let (a, b): (Vec<usize>, Vec<usize>) = match pattern {
        0 => (vec![k], vec![k]),
        1 => (vec![m, k], vec![k]),
        2 => (vec![k], vec![k, n]),
        3 => (vec![m, k], vec![k, n]),
        4 => (vec![2, 1, m, k], vec![3, k, n]),
        _ => (vec![k], vec![2, k, n]),
    };
    vec![leaf(runner, &a), leaf(runner, &b)]
}

#[test]
fn every_listed_op_has_a_case() {
    let names: Vec<&str> = cases().iter().map(|c| c.0).collect();
    let missing: Vec<&&str> = DIFFERENTIABLE_OPS
        .iter()
        .chain(CONV_OPS)
        .chain(POOL_OPS)
        .filter(|op| !names.contains(op))
        .collect();
    assert!(
        missing.is_empty(),
        "differentiable ops without a gradcheck case: {missing:?}"
    );
}

/// The op tables, iterated: every unary op and every non-comparison binary op, on inputs drawn
/// from the op's own `domain`, through the exhaustive `Tensor::unary`/`Tensor::binary` rules.
/// A new table entry is checked here without a line of this file changing.
#[test]
fn gradcheck_every_table_op() {
    for op in UnaryOp::ALL {
        let kind = match op.domain() {
            Domain::Positive => Inputs::Positive,
            Domain::Real => Inputs::Any,
        };
        check(op.name(), kind, move |x: &[T]| x[0].unary(op));
    }
    for op in BinaryOp::ALL.into_iter().filter(|op| !op.is_comparison()) {
        let kind = match op.domain() {
            Domain::Positive => Inputs::PositiveBase,
            Domain::Real => Inputs::Pair(false),
        };
        check(op.name(), kind, move |x: &[T]| x[0].binary(op, &x[1]));
    }
}

#[test]
fn gradcheck_every_op() {
    for (name, kind, f) in cases() {
        check(name, kind, f);
    }
}

#[test]
fn gradcheck_catches_a_wrong_rule() {
    // A deliberately wrong backward (d/dx x² claimed to be x) must be rejected.
    let x = Tensor::from_vec(vec![0.7f64, -1.2], [2], &Cpu)
        .unwrap()
        .requires_grad_(true);
    let wrong = |xs: &[T]| -> Result<T> {
        let out = xs[0].array().square()?;
        Ok(Tensor::from_op(
            out,
            "wrong_square",
            &[&xs[0]],
            |inputs, _, g| Ok(vec![Some(g.mul(&inputs[0])?)]),
        ))
    };
    let err = gradcheck(wrong, &[x], GradcheckOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("analytic") && err.contains("numeric"), "{err}");
}

#[test]
fn pieces_survive_retain_graph_and_create_graph() {
    // `unbind` and `split` park their pieces' gradients between the pieces and the input: a
    // second pass over a retained graph must start from nothing, and under `create_graph` the
    // gradient must still carry a graph (d²/dx² of Σ x_k³ is 6x).
    use nanotorch_autograd::{grad, BackwardOptions};
    type Cut = fn(&Tensor<f64, Cpu>) -> Vec<Tensor<f64, Cpu>>;
    let cuts: [(&str, Cut); 3] = [
        ("unbind", |x| x.unbind(0).unwrap()),
        ("split", |x| x.split(1, 0).unwrap()),
        ("split_sizes", |x| {
            let mut parts = x.split_sizes(&[1, 1, 0, 1], 0).unwrap();
            parts.remove(2);
            parts
        }),
    ];
    for (name, cut) in cuts {
        let x = Tensor::from_vec(vec![1.0f64, -2.0, 3.0], [3], &Cpu)
            .unwrap()
            .requires_grad_(true);
        let parts = cut(&x);
        let cube = |k: usize| parts[k].pow_scalar(3.0).unwrap().sum_all().unwrap();
        let y = cube(0).add(&cube(2)).unwrap();
        let retain = BackwardOptions {
            retain_graph: true,
            create_graph: false,
        };
        for _ in 0..2 {
            let g = grad(&y, None, &[&x], retain).unwrap().remove(0).unwrap();
            assert_eq!(g.to_vec().unwrap(), vec![3.0, 0.0, 27.0], "{name}");
        }
        let create = BackwardOptions {
            retain_graph: true,
            create_graph: true,
        };
        let g = grad(&y, None, &[&x], create).unwrap().remove(0).unwrap();
        let g2 = grad(
            &g.sum_all().unwrap(),
            None,
            &[&x],
            BackwardOptions::default(),
        )
        .unwrap()
        .remove(0)
        .unwrap();
        assert_eq!(g2.to_vec().unwrap(), vec![6.0, 0.0, 18.0], "{name}");
    }
}
