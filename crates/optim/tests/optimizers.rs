//! Each optimizer's trajectory on a fixed quadratic against a plain scalar re-implementation of
//! PyTorch's update rule, written here independently of the crate (f64, one element at a time).
//!
//! The problem: f(x) = Σᵢ ½ aᵢ xᵢ² − bᵢ xᵢ over two parameters (shapes [3] and [2, 2]), so
//! ∂f/∂xᵢ = aᵢ xᵢ − bᵢ, computed by autograd's backward in the optimizer runs and by that formula
//! in the references.

use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::Result;
use nanotorch_optim::*;
use serde_json::json;

type T = Tensor<f64, Cpu>;

const X0: [f64; 7] = [1.0, -2.0, 0.5, 3.0, -0.25, 2.0, -1.5];
const A: [f64; 7] = [1.0, 2.0, 0.5, 3.0, 1.5, 0.8, 2.5];
const B: [f64; 7] = [0.5, -1.0, 0.25, 1.0, 0.0, -0.5, 2.0];
const STEPS: usize = 10;

/// The two parameters, fresh from `values` (7 numbers: 3 then 2×2).
fn params(values: &[f64]) -> Vec<T> {
    vec![
        Tensor::from_slice(&values[..3], [3], &Cpu)
            .unwrap()
            .requires_grad_(true),
        Tensor::from_slice(&values[3..], [2, 2], &Cpu)
            .unwrap()
            .requires_grad_(true),
    ]
}

fn loss(ps: &[T]) -> Result<T> {
    let a = [
        Tensor::from_slice(&A[..3], [3], &Cpu)?,
        Tensor::from_slice(&A[3..], [2, 2], &Cpu)?,
    ];
    let b = [
        Tensor::from_slice(&B[..3], [3], &Cpu)?,
        Tensor::from_slice(&B[3..], [2, 2], &Cpu)?,
    ];
    let mut total: Option<T> = None;
    for ((p, a), b) in ps.iter().zip(&a).zip(&b) {
        let term = p
            .square()?
            .mul(a)?
            .mul_scalar(0.5)?
            .sub(&b.mul(p)?)?
            .sum_all()?;
        total = Some(match total {
            Some(t) => t.add(&term)?,
            None => term,
        });
    }
    Ok(total.unwrap())
}

fn values(ps: &[T]) -> Vec<f64> {
    ps.iter().flat_map(|p| p.to_vec().unwrap()).collect()
}

/// Runs `steps` steps of `opt` over `ps`, returning the parameters after each step.
fn run(opt: &mut dyn Optimizer, ps: &[T], steps: usize) -> Vec<Vec<f64>> {
    (0..steps)
        .map(|_| {
            opt.zero_grad();
            loss(ps).unwrap().backward().unwrap();
            opt.step().unwrap();
            values(ps)
        })
        .collect()
}

fn assert_close(got: &[Vec<f64>], want: &[Vec<f64>], what: &str) {
    assert_eq!(got.len(), want.len());
    for (t, (g, w)) in got.iter().zip(want).enumerate() {
        for (i, (g, w)) in g.iter().zip(w).enumerate() {
            assert!(
                (g - w).abs() <= 1e-12 * (1.0 + w.abs()),
                "{what}: step {} element {i}: got {g}, want {w}",
                t + 1
            );
        }
    }
}

/// Runs the reference `update(i, x, g, t)` (element `i`, step `t` from 1) for STEPS steps.
fn reference(mut update: impl FnMut(usize, f64, f64, usize) -> f64) -> Vec<Vec<f64>> {
    let mut x = X0.to_vec();
    (1..=STEPS)
        .map(|t| {
            let g: Vec<f64> = (0..7).map(|i| A[i] * x[i] - B[i]).collect();
            for i in 0..7 {
                x[i] = update(i, x[i], g[i], t);
            }
            x.clone()
        })
        .collect()
}

// ---------------------------------------------------------------- SGD

fn sgd_reference(o: SgdOptions) -> Vec<Vec<f64>> {
    let mut buf: Vec<Option<f64>> = vec![None; 7];
    reference(|i, x, grad, _t| {
        // PyTorch's _single_tensor_sgd
        let mut g = if o.maximize { -grad } else { grad };
        if o.weight_decay != 0.0 {
            g += o.weight_decay * x;
        }
        if o.momentum != 0.0 {
            let b = match buf[i] {
                None => g,
                Some(b) => o.momentum * b + (1.0 - o.dampening) * g,
            };
            buf[i] = Some(b);
            g = if o.nesterov { g + o.momentum * b } else { b };
        }
        x - o.lr * g
    })
}

fn sgd_cases() -> Vec<SgdOptions> {
    let base = SgdOptions {
        lr: 0.1,
        ..Default::default()
    };
    vec![
        base,
        SgdOptions {
            momentum: 0.9,
            ..base
        },
        SgdOptions {
            momentum: 0.9,
            nesterov: true,
            ..base
        },
        SgdOptions {
            momentum: 0.8,
            dampening: 0.3,
            ..base
        },
        SgdOptions {
            momentum: 0.9,
            weight_decay: 0.1,
            ..base
        },
        SgdOptions {
            maximize: true,
            weight_decay: 0.2,
            momentum: 0.5,
            ..base
        },
        SgdOptions {
            maximize: true,
            ..base
        },
    ]
}

#[test]
fn sgd_matches_pytorch_rule() {
    for o in sgd_cases() {
        let ps = params(&X0);
        let mut opt = SGD::new(ps.clone(), o).unwrap();
        assert_close(
            &run(&mut opt, &ps, STEPS),
            &sgd_reference(o),
            &format!("{o:?}"),
        );
    }
}

#[test]
fn sgd_in_f32_follows_the_f64_reference() {
    let o = SgdOptions {
        lr: 0.1,
        momentum: 0.9,
        nesterov: true,
        ..Default::default()
    };
    let x0: Vec<f32> = X0.iter().map(|&x| x as f32).collect();
    let p = Tensor::from_slice(&x0, [7], &Cpu)
        .unwrap()
        .requires_grad_(true);
    let a = Tensor::from_vec(A.iter().map(|&x| x as f32).collect(), [7], &Cpu).unwrap();
    let b = Tensor::from_vec(B.iter().map(|&x| x as f32).collect(), [7], &Cpu).unwrap();
    let mut opt = SGD::new([p.clone()], o).unwrap();
    let want = sgd_reference(o);
    for w in want {
        opt.zero_grad();
        let l = p
            .square()
            .unwrap()
            .mul(&a)
            .unwrap()
            .mul_scalar(0.5)
            .unwrap();
        l.sub(&b.mul(&p).unwrap())
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        opt.step().unwrap();
        for (g, w) in p.to_vec().unwrap().iter().zip(&w) {
            assert!((*g as f64 - w).abs() < 1e-5 * (1.0 + w.abs()), "{g} vs {w}");
        }
    }
}

#[test]
fn sgd_rejects_bad_options() {
    let bad = [
        SgdOptions {
            lr: -1.0,
            ..Default::default()
        },
        SgdOptions {
            momentum: -0.1,
            ..Default::default()
        },
        SgdOptions {
            nesterov: true,
            ..Default::default()
        },
        SgdOptions {
            nesterov: true,
            momentum: 0.9,
            dampening: 0.1,
            ..Default::default()
        },
    ];
    for o in bad {
        let err = SGD::new(params(&X0), o).unwrap_err().to_string();
        assert!(err.starts_with("SGD: "), "{err}");
    }
    let err = SGD::<f64, Cpu>::new(Vec::new(), SgdOptions::default()).unwrap_err();
    assert!(err.to_string().contains("empty parameter list"), "{err}");
    let ps = params(&X0);
    let err = SGD::new([ps[0].clone(), ps[0].clone()], SgdOptions::default()).unwrap_err();
    assert!(err.to_string().contains("more than one"), "{err}");
    let non_leaf = ps[0].mul_scalar(2.0).unwrap();
    let err = SGD::new([non_leaf], SgdOptions::default()).unwrap_err();
    assert!(err.to_string().contains("non-leaf"), "{err}");
}

// ---------------------------------------------------------------- Adam / AdamW

fn adam_reference(o: AdamOptions, decoupled: bool) -> Vec<Vec<f64>> {
    let (mut m, mut v, mut vmax) = ([0.0; 7], [0.0; 7], [0.0f64; 7]);
    let (b1, b2) = o.betas;
    reference(|i, mut x, grad, t| {
        let mut g = if o.maximize { -grad } else { grad };
        if decoupled {
            x *= 1.0 - o.lr * o.weight_decay;
        } else if o.weight_decay != 0.0 {
            g += o.weight_decay * x;
        }
        m[i] = b1 * m[i] + (1.0 - b1) * g;
        v[i] = b2 * v[i] + (1.0 - b2) * g * g;
        let bc1 = 1.0 - b1.powi(t as i32);
        let bc2 = 1.0 - b2.powi(t as i32);
        let second = if o.amsgrad {
            vmax[i] = vmax[i].max(v[i]);
            vmax[i]
        } else {
            v[i]
        };
        let denom = second.sqrt() / bc2.sqrt() + o.eps;
        x - o.lr / bc1 * m[i] / denom
    })
}

fn adam_cases() -> Vec<AdamOptions> {
    let base = AdamOptions {
        lr: 0.1,
        ..Default::default()
    };
    vec![
        base,
        AdamOptions {
            amsgrad: true,
            betas: (0.9, 0.5),
            ..base
        },
        AdamOptions {
            weight_decay: 0.1,
            ..base
        },
        AdamOptions {
            maximize: true,
            weight_decay: 0.05,
            ..base
        },
        AdamOptions {
            betas: (0.5, 0.9),
            eps: 1e-3,
            ..base
        },
    ]
}

#[test]
fn adam_matches_pytorch_rule() {
    for o in adam_cases() {
        let ps = params(&X0);
        let mut opt = Adam::new(ps.clone(), o).unwrap();
        assert_close(
            &run(&mut opt, &ps, STEPS),
            &adam_reference(o, false),
            &format!("Adam {o:?}"),
        );
    }
}

#[test]
fn adamw_matches_pytorch_rule() {
    for o in adam_cases() {
        let o = AdamOptions {
            weight_decay: o.weight_decay.max(0.1),
            ..o
        };
        let ps = params(&X0);
        let mut opt = AdamW::new(ps.clone(), AdamWOptions::from(o)).unwrap();
        assert_close(
            &run(&mut opt, &ps, STEPS),
            &adam_reference(o, true),
            &format!("AdamW {o:?}"),
        );
    }
}

#[test]
fn amsgrad_case_exercises_the_maximum() {
    // The AMSGrad case above would prove nothing if v never decreased.
    let o = adam_cases()[1];
    let plain = AdamOptions {
        amsgrad: false,
        ..o
    };
    assert_ne!(adam_reference(o, false), adam_reference(plain, false));
}

#[test]
fn adam_defaults_are_pytorchs() {
    let a = AdamOptions::default();
    assert_eq!(
        (a.lr, a.betas, a.eps, a.weight_decay),
        (1e-3, (0.9, 0.999), 1e-8, 0.0)
    );
    let w = AdamWOptions::default();
    assert_eq!(
        (w.lr, w.betas, w.eps, w.weight_decay),
        (1e-3, (0.9, 0.999), 1e-8, 1e-2)
    );
    let r = RmspropOptions::default();
    assert_eq!((r.lr, r.alpha, r.eps), (1e-2, 0.99, 1e-8));
    let g = AdagradOptions::default();
    assert_eq!((g.lr, g.eps), (1e-2, 1e-10));
}

// ---------------------------------------------------------------- RMSprop

fn rmsprop_reference(o: RmspropOptions) -> Vec<Vec<f64>> {
    let (mut sq, mut gavg, mut buf) = ([0.0; 7], [0.0; 7], [0.0; 7]);
    reference(|i, x, grad, _t| {
        let mut g = if o.maximize { -grad } else { grad };
        if o.weight_decay != 0.0 {
            g += o.weight_decay * x;
        }
        sq[i] = o.alpha * sq[i] + (1.0 - o.alpha) * g * g;
        let avg = if o.centered {
            gavg[i] = o.alpha * gavg[i] + (1.0 - o.alpha) * g;
            (sq[i] - gavg[i] * gavg[i]).sqrt() + o.eps
        } else {
            sq[i].sqrt() + o.eps
        };
        if o.momentum > 0.0 {
            buf[i] = o.momentum * buf[i] + g / avg;
            x - o.lr * buf[i]
        } else {
            x - o.lr * g / avg
        }
    })
}

#[test]
fn rmsprop_matches_pytorch_rule() {
    let base = RmspropOptions {
        lr: 0.01,
        ..Default::default()
    };
    let cases = [
        base,
        RmspropOptions {
            centered: true,
            ..base
        },
        RmspropOptions {
            momentum: 0.9,
            ..base
        },
        RmspropOptions {
            centered: true,
            momentum: 0.5,
            weight_decay: 0.1,
            alpha: 0.9,
            ..base
        },
        RmspropOptions {
            maximize: true,
            ..base
        },
    ];
    for o in cases {
        let ps = params(&X0);
        let mut opt = RMSprop::new(ps.clone(), o).unwrap();
        assert_close(
            &run(&mut opt, &ps, STEPS),
            &rmsprop_reference(o),
            &format!("{o:?}"),
        );
    }
}

// ---------------------------------------------------------------- Adagrad

fn adagrad_reference(o: AdagradOptions) -> Vec<Vec<f64>> {
    let mut sum = [o.initial_accumulator_value; 7];
    reference(|i, x, grad, t| {
        let mut g = if o.maximize { -grad } else { grad };
        let clr = o.lr / (1.0 + (t as f64 - 1.0) * o.lr_decay);
        if o.weight_decay != 0.0 {
            g += o.weight_decay * x;
        }
        sum[i] += g * g;
        x - clr * g / (sum[i].sqrt() + o.eps)
    })
}

#[test]
fn adagrad_matches_pytorch_rule() {
    let base = AdagradOptions {
        lr: 0.5,
        ..Default::default()
    };
    let cases = [
        base,
        AdagradOptions {
            lr_decay: 0.1,
            weight_decay: 0.2,
            initial_accumulator_value: 0.5,
            ..base
        },
        AdagradOptions {
            maximize: true,
            eps: 1e-3,
            ..base
        },
    ];
    for o in cases {
        let ps = params(&X0);
        let mut opt = Adagrad::new(ps.clone(), o).unwrap();
        assert_close(
            &run(&mut opt, &ps, STEPS),
            &adagrad_reference(o),
            &format!("{o:?}"),
        );
    }
}

// ---------------------------------------------------------------- shared behaviour

#[test]
fn groups_use_their_own_hyper_parameters() {
    let ps = params(&X0);
    let fast = SgdOptions {
        lr: 0.1,
        momentum: 0.9,
        ..Default::default()
    };
    let slow = SgdOptions {
        lr: 0.01,
        weight_decay: 0.1,
        ..Default::default()
    };
    let mut opt = SGD::with_groups(vec![
        ParamGroup::new([ps[0].clone()], fast),
        ParamGroup::new([ps[1].clone()], slow),
    ])
    .unwrap();
    assert_eq!(opt.num_groups(), 2);
    assert_eq!((opt.lr(0), opt.lr(1)), (0.1, 0.01));
    let got = run(&mut opt, &ps, STEPS);
    let (want_fast, want_slow) = (sgd_reference(fast), sgd_reference(slow));
    for t in 0..STEPS {
        assert_close(
            &[got[t][..3].to_vec()],
            &[want_fast[t][..3].to_vec()],
            "group 0",
        );
        assert_close(
            &[got[t][3..].to_vec()],
            &[want_slow[t][3..].to_vec()],
            "group 1",
        );
    }
}

#[test]
fn parameters_without_grad_are_skipped_and_updates_are_in_place() {
    let ps = params(&X0);
    let unused = Tensor::from_vec(vec![5.0f64, 6.0], [2], &Cpu)
        .unwrap()
        .requires_grad_(true);
    let mut all = ps.clone();
    all.push(unused.clone());
    let before: Vec<_> = all.iter().map(|p| p.array().clone()).collect();
    let mut opt = Adam::new(
        all.clone(),
        AdamOptions {
            lr: 0.1,
            amsgrad: true,
            ..Default::default()
        },
    )
    .unwrap();
    run(&mut opt, &ps, 3);
    assert_eq!(unused.to_vec().unwrap(), vec![5.0, 6.0]);
    assert!(opt.param_state(0, 2).is_none());
    assert_eq!(opt.param_state(0, 0).unwrap().step, 3);
    for (p, b) in all.iter().zip(&before) {
        assert!(p.array().same_storage(b), "a parameter was reallocated");
    }
    assert_ne!(values(&ps), X0.to_vec());
}

#[test]
fn zero_grad_sets_grads_to_none() {
    let ps = params(&X0);
    let opt = SGD::new(ps.clone(), SgdOptions::default()).unwrap();
    loss(&ps).unwrap().backward().unwrap();
    assert!(ps.iter().all(|p| p.grad().is_some()));
    opt.zero_grad();
    assert!(ps.iter().all(|p| p.grad().is_none()));
}

#[test]
fn gradients_shared_between_parameters_are_not_corrupted() {
    // y = Σ (p + q): autograd may hand p and q one gradient buffer; updating p must not touch it.
    let p = Tensor::from_vec(vec![1.0f64, 2.0], [2], &Cpu)
        .unwrap()
        .requires_grad_(true);
    let q = Tensor::from_vec(vec![3.0f64, 4.0], [2], &Cpu)
        .unwrap()
        .requires_grad_(true);
    let o = SgdOptions {
        lr: 0.5,
        momentum: 0.9,
        nesterov: true,
        weight_decay: 0.1,
        ..Default::default()
    };
    let mut opt = SGD::new([p.clone(), q.clone()], o).unwrap();
    for _ in 0..3 {
        opt.zero_grad();
        p.add(&q).unwrap().sum_all().unwrap().backward().unwrap();
        opt.step().unwrap();
        assert_eq!(p.grad().unwrap().to_vec().unwrap(), vec![1.0, 1.0]);
        assert_eq!(q.grad().unwrap().to_vec().unwrap(), vec![1.0, 1.0]);
    }
}

// ---------------------------------------------------------------- state dict

/// 10 uninterrupted steps vs 5, save (through JSON), load into a fresh optimizer over fresh
/// parameters holding the same values, 5 more: bit-identical.
fn check_resume<O: Optimizer>(make: impl Fn(Vec<T>) -> O) {
    let ps = params(&X0);
    let mut straight = make(ps.clone());
    let want = run(&mut straight, &ps, 10);

    let ps = params(&X0);
    let mut first = make(ps.clone());
    run(&mut first, &ps, 5);
    let json = serde_json::to_string(&first.state_dict().unwrap()).unwrap();
    let saved: StateDict = serde_json::from_str(&json).unwrap();

    let resumed_ps = params(&values(&ps));
    let mut second = make(resumed_ps.clone());
    second.load_state_dict(&saved).unwrap();
    let got = run(&mut second, &resumed_ps, 5);
    assert_eq!(got, want[5..].to_vec(), "{}", second.name());
    assert_eq!(
        second.state_dict().unwrap().param_groups,
        straight.state_dict().unwrap().param_groups
    );
}

#[test]
fn state_dict_round_trip_resumes_exactly() {
    check_resume(|ps| {
        SGD::new(
            ps,
            SgdOptions {
                lr: 0.1,
                momentum: 0.9,
                nesterov: true,
                ..Default::default()
            },
        )
        .unwrap()
    });
    check_resume(|ps| {
        Adam::new(
            ps,
            AdamOptions {
                lr: 0.1,
                amsgrad: true,
                betas: (0.9, 0.5),
                ..Default::default()
            },
        )
        .unwrap()
    });
    check_resume(|ps| {
        AdamW::new(
            ps,
            AdamWOptions {
                lr: 0.1,
                ..Default::default()
            },
        )
        .unwrap()
    });
    check_resume(|ps| {
        RMSprop::new(
            ps,
            RmspropOptions {
                centered: true,
                momentum: 0.5,
                ..Default::default()
            },
        )
        .unwrap()
    });
    check_resume(|ps| {
        Adagrad::new(
            ps,
            AdagradOptions {
                lr: 0.5,
                lr_decay: 0.1,
                ..Default::default()
            },
        )
        .unwrap()
    });
}

#[test]
fn state_dict_carries_hyper_parameters_and_pytorch_names() {
    let ps = params(&X0);
    let mut opt = Adam::new(
        ps.clone(),
        AdamOptions {
            lr: 0.1,
            ..Default::default()
        },
    )
    .unwrap();
    run(&mut opt, &ps, 2);
    opt.set_lr(0, 0.05).unwrap();
    let sd = opt.state_dict().unwrap();
    assert_eq!(sd.optimizer, "Adam");
    assert_eq!(sd.param_groups[0].params, vec![0, 1]);
    assert_eq!(sd.param_groups[0].options["lr"], 0.05);
    assert_eq!(sd.param_groups[0].options["betas"], json!([0.9, 0.999]));
    assert_eq!(sd.param_groups[0].options["amsgrad"], false);
    let s0 = &sd.state[&0];
    assert_eq!(s0["step"], 2);
    assert_eq!(s0["exp_avg"]["shape"], json!([3]));
    assert_eq!(s0["exp_avg"]["data"].as_array().unwrap().len(), 3);
    assert_eq!(sd.state[&1]["exp_avg_sq"]["shape"], json!([2, 2]));
    assert!(s0.get("max_exp_avg_sq").is_none(), "AMSGrad is off");

    // Loading restores the saved lr over the fresh optimizer's.
    let mut fresh = Adam::new(params(&X0), AdamOptions::default()).unwrap();
    fresh.load_state_dict(&sd).unwrap();
    assert_eq!(fresh.lr(0), 0.05);
}

#[test]
fn load_state_dict_rejects_mismatches_and_changes_nothing() {
    let ps = params(&X0);
    let o = SgdOptions {
        lr: 0.1,
        momentum: 0.9,
        ..Default::default()
    };
    let mut opt = SGD::new(ps.clone(), o).unwrap();
    run(&mut opt, &ps, 2);
    let good = opt.state_dict().unwrap();

    let expect_err = |sd: &StateDict, needles: &[&str]| {
        let mut target = SGD::new(
            params(&X0),
            SgdOptions {
                lr: 0.7,
                ..Default::default()
            },
        )
        .unwrap();
        let err = target.load_state_dict(sd).unwrap_err().to_string();
        for needle in ["SGD load_state_dict"].iter().chain(needles) {
            assert!(err.contains(needle), "{err:?} should mention {needle:?}");
        }
        assert_eq!(target.lr(0), 0.7, "a failed load changed the optimizer");
        assert!(target.param_state(0, 0).is_none());
    };

    let mut sd = good.clone();
    sd.optimizer = "Adam".into();
    expect_err(&sd, &["written by Adam"]);

    let mut sd = good.clone();
    sd.param_groups.push(sd.param_groups[0].clone());
    expect_err(&sd, &["2 parameter groups"]);

    let mut sd = good.clone();
    sd.param_groups[0].params.push(2);
    expect_err(&sd, &["3 parameters in the state dict and 2"]);

    let mut sd = good.clone();
    sd.state.get_mut(&1).unwrap()["momentum_buffer"] =
        json!({"shape": [4], "data": [0.0, 0.0, 0.0, 0.0]});
    expect_err(
        &sd,
        &[
            "group 0, parameter 1",
            "state entry `momentum_buffer`",
            "[2, 2]",
            "[4]",
        ],
    );

    let mut sd = good.clone();
    sd.param_groups[0]
        .options
        .as_object_mut()
        .unwrap()
        .remove("momentum");
    expect_err(&sd, &["group 0", "missing field `momentum`"]);

    let mut sd = good.clone();
    sd.param_groups[0].options["betas"] = json!([0.9, 0.999]);
    expect_err(&sd, &["unknown field `betas`"]);

    let mut sd = good.clone();
    sd.param_groups[0].options["nesterov"] = json!(1.0);
    expect_err(&sd, &["hyper-parameter `nesterov`", "expected a boolean"]);

    let mut sd = good.clone();
    sd.state.get_mut(&0).unwrap()["exp_avg"] = json!(1.0);
    expect_err(&sd, &["group 0, parameter 0", "unknown field `exp_avg`"]);

    let mut sd = good.clone();
    sd.state.get_mut(&0).unwrap()["momentum_buffer"] = json!(1.0);
    expect_err(&sd, &["state entry `momentum_buffer`", "invalid type"]);

    let mut sd = good;
    sd.state.insert(9, sd.state[&0].clone());
    expect_err(&sd, &["parameter id 9"]);
}

#[test]
fn load_errors_name_the_optimizer_and_the_entry() {
    let ps = params(&X0);
    let mut opt = Adam::new(ps.clone(), AdamOptions::default()).unwrap();
    run(&mut opt, &ps, 2);
    let good = opt.state_dict().unwrap();
    let load_err = |sd: &StateDict| {
        let mut target = Adam::new(params(&X0), AdamOptions::default()).unwrap();
        let err = target.load_state_dict(sd).unwrap_err().to_string();
        assert!(
            target.param_state(0, 0).is_none(),
            "a failed load changed the optimizer"
        );
        err
    };
    let mentions = |err: &str, needles: &[&str]| {
        for needle in needles {
            assert!(err.contains(needle), "{err:?} should mention {needle:?}");
        }
    };

    for step in [json!(2.5), json!(-1), json!("two")] {
        let mut sd = good.clone();
        sd.state.get_mut(&1).unwrap()["step"] = step;
        let err = load_err(&sd);
        mentions(
            &err,
            &["Adam load_state_dict", "parameter 1", "state entry `step`"],
        );
    }

    // An array whose data does not fill its shape.
    let mut sd = good.clone();
    sd.state.get_mut(&0).unwrap()["exp_avg"] = json!({"shape": [3], "data": [1.0]});
    mentions(&load_err(&sd), &["parameter 0", "state entry `exp_avg`"]);

    let mut sd = good.clone();
    sd.state
        .get_mut(&0)
        .unwrap()
        .as_object_mut()
        .unwrap()
        .remove("exp_avg_sq");
    mentions(&load_err(&sd), &["missing field `exp_avg_sq`"]);

    let mut sd = good.clone();
    sd.param_groups[0].options["lr"] = json!("fast");
    mentions(&load_err(&sd), &["group 0", "hyper-parameter `lr`"]);

    let mut sd = good.clone();
    sd.param_groups[0].options["betas"] = json!([0.9]);
    mentions(&load_err(&sd), &["hyper-parameter `betas`"]);

    // AdamW's state dict has the same shape as Adam's; the name tells them apart.
    let mut adamw = AdamW::new(params(&X0), AdamWOptions::default()).unwrap();
    run(&mut adamw, &params(&X0), 1);
    mentions(
        &load_err(&adamw.state_dict().unwrap()),
        &["written by AdamW, not Adam"],
    );
}

#[test]
fn non_finite_state_survives_json() {
    // A diverged run's momentum holds NaN and infinities; JSON has no literal for them.
    let p = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], [3], &Cpu)
        .unwrap()
        .requires_grad_(true);
    let o = SgdOptions {
        lr: 0.1,
        momentum: 0.9,
        ..Default::default()
    };
    let mut opt = SGD::new([p.clone()], o).unwrap();
    let grad = vec![f32::NAN, f32::INFINITY, f32::NEG_INFINITY];
    p.set_grad(Some(Tensor::from_vec(grad.clone(), [3], &Cpu).unwrap()));
    opt.step().unwrap();
    let json = serde_json::to_string(&opt.state_dict().unwrap()).unwrap();
    assert!(json.contains(r#"["NaN","inf","-inf"]"#), "{json}");

    let saved: StateDict = serde_json::from_str(&json).unwrap();
    let mut resumed = SGD::new([p.clone()], o).unwrap();
    resumed.load_state_dict(&saved).unwrap();
    let buf = resumed.param_state(0, 0).unwrap().momentum_buffer.as_ref();
    let buf = buf.unwrap().to_vec().unwrap();
    assert!(buf[0].is_nan());
    assert_eq!(&buf[1..], &grad[1..]);
}

#[test]
fn state_arrays_are_read_only_by_load_state_dict() {
    // Outside `load_state_dict` there is no parameter to put an array on.
    let saved = json!({"momentum_buffer": {"shape": [1], "data": [0.0]}});
    let err = serde_json::from_value::<SgdState<f64, Cpu>>(saved).unwrap_err();
    assert!(err.to_string().contains("load_state_dict"), "{err}");
    // Without arrays, the state reads anywhere.
    let empty = serde_json::from_value::<SgdState<f64, Cpu>>(json!({})).unwrap();
    assert!(empty.momentum_buffer.is_none());
}

#[test]
fn momentum_accessors_cover_each_algorithm() {
    let mut sgd = SGD::new(
        params(&X0),
        SgdOptions {
            momentum: 0.9,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(sgd.momentum(0), Some(0.9));
    let mut adam = Adam::new(params(&X0), AdamOptions::default()).unwrap();
    adam.set_momentum(0, 0.8).unwrap();
    assert_eq!(adam.param_groups()[0].options.betas, (0.8, 0.999));
    sgd.set_momentum(0, 0.5).unwrap();
    assert_eq!(sgd.momentum(0), Some(0.5));
    let mut ada = Adagrad::new(params(&X0), AdagradOptions::default()).unwrap();
    assert_eq!(ada.momentum(0), None);
    assert!(ada.set_momentum(0, 0.5).is_err());
}

#[test]
fn every_optimizer_updates_in_place() {
    let check = |make: &dyn Fn(Vec<T>) -> Box<dyn Optimizer>| {
        let ps = params(&X0);
        let before: Vec<_> = ps.iter().map(|p| p.array().clone()).collect();
        let mut opt = make(ps.clone());
        run(opt.as_mut(), &ps, 3);
        for (p, b) in ps.iter().zip(&before) {
            assert!(
                p.array().same_storage(b),
                "{} reallocated a parameter",
                opt.name()
            );
        }
        assert_ne!(values(&ps), X0.to_vec(), "{} did not move", opt.name());
    };
    check(&|ps| {
        let o = SgdOptions {
            lr: 0.1,
            momentum: 0.9,
            weight_decay: 0.1,
            ..Default::default()
        };
        Box::new(SGD::new(ps, o).unwrap())
    });
    check(&|ps| Box::new(Adam::new(ps, AdamOptions::default()).unwrap()));
    check(&|ps| Box::new(AdamW::new(ps, AdamWOptions::default()).unwrap()));
    check(&|ps| {
        let o = RmspropOptions {
            momentum: 0.9,
            centered: true,
            ..Default::default()
        };
        Box::new(RMSprop::new(ps, o).unwrap())
    });
    check(&|ps| Box::new(Adagrad::new(ps, AdagradOptions::default()).unwrap()));
}
