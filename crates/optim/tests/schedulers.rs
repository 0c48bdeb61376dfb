//! Each schedule's learning-rate sequence over 20 steps against PyTorch's closed forms, computed
//! here; ReduceLROnPlateau and OneCycleLR against hand-worked sequences; gradient clipping on
//! hand-checked cases.

use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;
use nanotorch_optim::*;
use std::f64::consts::PI;

const BASES: [f64; 2] = [0.1, 0.5];

/// An SGD with two groups, lrs 0.1 and 0.5.
fn optimizer() -> SGD<f64, Cpu> {
    let p = |v: f64| {
        Tensor::from_vec(vec![v], [1], &Cpu)
            .unwrap()
            .requires_grad_(true)
    };
    let o = |lr| SgdOptions {
        lr,
        momentum: 0.9,
        ..Default::default()
    };
    SGD::with_groups(vec![
        ParamGroup::new([p(1.0)], o(BASES[0])),
        ParamGroup::new([p(2.0)], o(BASES[1])),
    ])
    .unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * (1.0 + b.abs())
}

/// Steps `sched` 20 times; at every epoch 0..=20 both groups' lr must equal `want(base, epoch)`,
/// in the optimizer and in `get_last_lr`.
fn check_schedule(
    opt: &mut SGD<f64, Cpu>,
    sched: &mut dyn LrScheduler,
    want: impl Fn(f64, usize) -> f64,
) {
    for epoch in 0..=20 {
        if epoch > 0 {
            opt.step().unwrap();
            sched.step(opt).unwrap();
        }
        assert_eq!(sched.last_epoch(), epoch);
        for (g, base) in BASES.iter().enumerate() {
            let w = want(*base, epoch);
            assert!(
                close(opt.lr(g), w),
                "epoch {epoch} group {g}: {} vs {w}",
                opt.lr(g)
            );
            assert!(close(sched.get_last_lr()[g], w));
        }
    }
}

#[test]
fn step_lr() {
    let mut opt = optimizer();
    let mut s = StepLR::new(&mut opt, 3, 0.5).unwrap();
    check_schedule(&mut opt, &mut s, |b, t| b * 0.5f64.powi((t / 3) as i32));
}

#[test]
fn multi_step_lr() {
    let mut opt = optimizer();
    let mut s = MultiStepLR::new(&mut opt, &[12, 4, 7, 7], 0.1).unwrap();
    check_schedule(&mut opt, &mut s, |b, t| {
        let k = [4, 7, 7, 12].iter().filter(|&&m| m <= t).count();
        b * 0.1f64.powi(k as i32)
    });
}

#[test]
fn exponential_lr() {
    let mut opt = optimizer();
    let mut s = ExponentialLR::new(&mut opt, 0.9).unwrap();
    check_schedule(&mut opt, &mut s, |b, t| b * 0.9f64.powi(t as i32));
}

#[test]
fn cosine_annealing_lr() {
    let mut opt = optimizer();
    let mut s = CosineAnnealingLR::new(&mut opt, 15, 0.01).unwrap();
    check_schedule(&mut opt, &mut s, |b, t| {
        0.01 + (b - 0.01) * (1.0 + (PI * t as f64 / 15.0).cos()) / 2.0
    });
    // t_max reached: eta_min exactly.
    let mut opt = optimizer();
    let mut s = CosineAnnealingLR::new(&mut opt, 4, 0.0).unwrap();
    for _ in 0..4 {
        s.step(&mut opt).unwrap();
    }
    assert!(opt.lr(0).abs() < 1e-18);
}

#[test]
fn linear_lr_warmup() {
    let mut opt = optimizer();
    let mut s = LinearLR::new(&mut opt, 1.0 / 3.0, 1.0, 5).unwrap();
    check_schedule(&mut opt, &mut s, |b, t| {
        b * (1.0 / 3.0 + (1.0 - 1.0 / 3.0) * (t.min(5) as f64) / 5.0)
    });
    let mut opt = optimizer();
    assert!(LinearLR::new(&mut opt, 0.0, 1.0, 5).is_err());
    assert!(LinearLR::new(&mut opt, 0.5, 1.5, 5).is_err());
}

/// PyTorch's OneCycleLR.get_lr, spelled out: phases end at pct·total - 1 (and 2·pct·total - 2
/// with three phases) and total - 1.
fn one_cycle_reference(
    t: usize,
    total: usize,
    max_lr: f64,
    three_phase: bool,
    cos: bool,
) -> (f64, f64) {
    let (pct_start, div, final_div, base_m, max_m) = (0.3, 25.0, 1e4, 0.85, 0.95);
    let initial = max_lr / div;
    let min = initial / final_div;
    let anneal = |start: f64, end: f64, pct: f64| {
        if cos {
            end + (start - end) / 2.0 * ((PI * pct).cos() + 1.0)
        } else {
            (end - start) * pct + start
        }
    };
    let total = total as f64;
    let t = t as f64;
    let e1 = pct_start * total - 1.0;
    if three_phase {
        let e2 = 2.0 * pct_start * total - 2.0;
        if t <= e1 {
            let p = t / e1;
            (anneal(initial, max_lr, p), anneal(max_m, base_m, p))
        } else if t <= e2 {
            let p = (t - e1) / (e2 - e1);
            (anneal(max_lr, initial, p), anneal(base_m, max_m, p))
        } else {
            let p = (t - e2) / (total - 1.0 - e2);
            (anneal(initial, min, p), max_m)
        }
    } else if t <= e1 {
        let p = t / e1;
        (anneal(initial, max_lr, p), anneal(max_m, base_m, p))
    } else {
        let p = (t - e1) / (total - 1.0 - e1);
        (anneal(max_lr, min, p), anneal(base_m, max_m, p))
    }
}

#[test]
fn one_cycle_lr_all_variants() {
    for three_phase in [false, true] {
        for cos in [true, false] {
            let mut opt = optimizer();
            let options = OneCycleOptions {
                three_phase,
                anneal_strategy: if cos {
                    AnnealStrategy::Cos
                } else {
                    AnnealStrategy::Linear
                },
                ..Default::default()
            };
            let mut s = OneCycleLR::with_max_lrs(&mut opt, &[1.0, 2.0], 20, options).unwrap();
            for t in 0..=20 {
                if t > 0 {
                    s.step(&mut opt).unwrap();
                }
                for (g, max_lr) in [1.0, 2.0].into_iter().enumerate() {
                    let (lr, m) = one_cycle_reference(t, 20, max_lr, three_phase, cos);
                    assert!(
                        close(opt.lr(g), lr),
                        "{options:?} t {t}: {} vs {lr}",
                        opt.lr(g)
                    );
                    assert!(close(opt.momentum(g).unwrap(), m), "t {t} momentum");
                }
            }
            // PyTorch errors once stepped past total_steps.
            assert!(s.step(&mut opt).is_err());
        }
    }
}

#[test]
fn one_cycle_lr_anchor_values() {
    // Hand-checked: starts at max/25, peaks at step pct·total - 1 = 5, ends at max/25/1e4.
    let mut opt = optimizer();
    let mut s = OneCycleLR::new(&mut opt, 1.0, 20, OneCycleOptions::default()).unwrap();
    assert!(close(opt.lr(0), 0.04) && close(opt.momentum(0).unwrap(), 0.95));
    for _ in 0..5 {
        s.step(&mut opt).unwrap();
    }
    assert!(close(opt.lr(1), 1.0) && close(opt.momentum(1).unwrap(), 0.85));
    for _ in 5..19 {
        s.step(&mut opt).unwrap();
    }
    assert!(close(opt.lr(0), 4e-6) && close(opt.momentum(0).unwrap(), 0.95));

    // Adam cycles beta1; Adagrad has nothing to cycle.
    let p = Tensor::from_vec(vec![1.0f64], [1], &Cpu)
        .unwrap()
        .requires_grad_(true);
    let mut adam = Adam::new([p.clone()], AdamOptions::default()).unwrap();
    OneCycleLR::new(&mut adam, 0.1, 10, OneCycleOptions::default()).unwrap();
    assert_eq!(adam.param_groups()[0].options.betas.0, 0.95);
    let mut ada = Adagrad::new([p], AdagradOptions::default()).unwrap();
    assert!(OneCycleLR::new(&mut ada, 0.1, 10, OneCycleOptions::default()).is_err());
    let no_momentum = OneCycleOptions {
        cycle_momentum: false,
        ..Default::default()
    };
    OneCycleLR::new(&mut ada, 0.1, 10, no_momentum).unwrap();
    assert!(close(ada.lr(0), 0.004));
}

#[test]
fn reduce_lr_on_plateau_min_rel_with_cooldown_and_min_lr() {
    let p = Tensor::from_vec(vec![1.0f64], [1], &Cpu)
        .unwrap()
        .requires_grad_(true);
    let mut opt = SGD::new(
        [p],
        SgdOptions {
            lr: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    let options = PlateauOptions {
        factor: 0.5,
        patience: 2,
        cooldown: 2,
        min_lr: 0.2,
        ..Default::default()
    };
    let mut s = ReduceLROnPlateau::new(&opt, options).unwrap();
    // A flat metric: worked out by hand from PyTorch's rule (bad epochs > patience reduces,
    // cooldown epochs do not count, min_lr bounds it, a reduction below eps is skipped).
    let want = [
        1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.25, 0.2, 0.2, 0.2, 0.2,
        0.2, 0.2, 0.2,
    ];
    for (epoch, w) in want.iter().enumerate() {
        s.step(&mut opt, 1.0).unwrap();
        assert_eq!(opt.lr(0), *w, "epoch {}", epoch + 1);
        assert_eq!(s.get_last_lr(), &[*w]);
    }
    assert_eq!(s.best(), Some(1.0));
}

#[test]
fn reduce_lr_on_plateau_improvement_thresholds() {
    let p = Tensor::from_vec(vec![1.0f64], [1], &Cpu)
        .unwrap()
        .requires_grad_(true);
    let mut opt = SGD::new(
        [p],
        SgdOptions {
            lr: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    let options = PlateauOptions {
        mode: PlateauMode::Max,
        threshold_mode: ThresholdMode::Abs,
        threshold: 0.1,
        patience: 0,
        ..Default::default()
    };
    let mut s = ReduceLROnPlateau::new(&opt, options).unwrap();
    s.step(&mut opt, 1.0).unwrap(); // best 1.0
    assert_eq!(opt.lr(0), 1.0);
    s.step(&mut opt, 1.05).unwrap(); // not above 1.0 + 0.1: bad epoch 1 > patience 0
    assert!(close(opt.lr(0), 0.1));
    s.step(&mut opt, 1.2).unwrap(); // better
    assert!(close(opt.lr(0), 0.1));
    assert_eq!(s.best(), Some(1.2));
    // min mode, relative: 0.99995 is not below 1·(1 - 1e-4).
    let mut opt2 = optimizer();
    let mut s = ReduceLROnPlateau::new(
        &opt2,
        PlateauOptions {
            patience: 0,
            ..Default::default()
        },
    )
    .unwrap();
    s.step(&mut opt2, 1.0).unwrap();
    s.step(&mut opt2, 0.99995).unwrap();
    assert!(close(opt2.lr(0), 0.01) && close(opt2.lr(1), 0.05));
    assert!(ReduceLROnPlateau::new(
        &opt2,
        PlateauOptions {
            factor: 1.0,
            ..Default::default()
        }
    )
    .is_err());
}

#[test]
fn schedulers_round_trip_through_serde() {
    let mut opt = optimizer();
    let mut s = CosineAnnealingLR::new(&mut opt, 10, 0.0).unwrap();
    for _ in 0..3 {
        s.step(&mut opt).unwrap();
    }
    let mut restored: CosineAnnealingLR =
        serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
    assert_eq!(restored, s);
    restored.step(&mut opt).unwrap();
    assert_eq!(restored.last_epoch(), 4);
    let mut opt2 = optimizer();
    let mut one = OneCycleLR::new(&mut opt2, 1.0, 10, OneCycleOptions::default()).unwrap();
    one.step(&mut opt2).unwrap();
    let back: OneCycleLR = serde_json::from_str(&serde_json::to_string(&one).unwrap()).unwrap();
    assert_eq!(back, one);
}

#[test]
fn scheduler_errors_on_a_changed_group_count() {
    let p = |v: f64| {
        Tensor::from_vec(vec![v], [1], &Cpu)
            .unwrap()
            .requires_grad_(true)
    };
    let mut opt = SGD::new([p(1.0)], SgdOptions::default()).unwrap();
    let mut s = StepLR::new(&mut opt, 1, 0.5).unwrap();
    opt.add_param_group([p(2.0)], SgdOptions::default())
        .unwrap();
    let err = s.step(&mut opt).unwrap_err().to_string();
    assert!(
        err.contains("built for 1 parameter groups, the optimizer has 2"),
        "{err}"
    );
}

// ---------------------------------------------------------------- clipping

fn with_grads(grads: &[&[f64]]) -> Vec<Tensor<f64, Cpu>> {
    grads
        .iter()
        .map(|g| {
            let p = Tensor::zeros([g.len()], &Cpu).unwrap().requires_grad_(true);
            p.set_grad(Some(Tensor::from_slice(g, [g.len()], &Cpu).unwrap()));
            p
        })
        .collect()
}

fn grads(ps: &[Tensor<f64, Cpu>]) -> Vec<Vec<f64>> {
    ps.iter()
        .map(|p| p.grad().unwrap().to_vec().unwrap())
        .collect()
}

#[test]
fn clip_grad_norm_hand_checked() {
    // ‖(3, 4, 12)‖₂ = 13; clip to 6.5 scales by 6.5 / (13 + 1e-6).
    let ps = with_grads(&[&[3.0, 4.0], &[12.0]]);
    let total = clip_grad_norm_(&ps, 6.5, 2.0).unwrap();
    assert_eq!(total, 13.0);
    let c = 6.5 / (13.0 + 1e-6);
    assert_eq!(grads(&ps), vec![vec![3.0 * c, 4.0 * c], vec![12.0 * c]]);

    // Under the limit: untouched (the coefficient clamps to 1).
    let ps = with_grads(&[&[3.0, 4.0], &[12.0]]);
    assert_eq!(clip_grad_norm_(&ps, 100.0, 2.0).unwrap(), 13.0);
    assert_eq!(grads(&ps), vec![vec![3.0, 4.0], vec![12.0]]);

    // inf-norm: the largest |g|; 1-norm: the sum of |g|.
    let ps = with_grads(&[&[3.0, -4.0], &[-12.0]]);
    assert_eq!(clip_grad_norm_(&ps, 6.0, f64::INFINITY).unwrap(), 12.0);
    let c = 6.0 / (12.0 + 1e-6);
    assert_eq!(grads(&ps), vec![vec![3.0 * c, -4.0 * c], vec![-12.0 * c]]);
    let ps = with_grads(&[&[3.0, -4.0], &[-12.0]]);
    assert_eq!(clip_grad_norm_(&ps, 100.0, 1.0).unwrap(), 19.0);
    // 3-norm: (27 + 64 + 1728)^(1/3)
    let ps = with_grads(&[&[3.0, -4.0], &[-12.0]]);
    let n3 = clip_grad_norm_(&ps, 100.0, 3.0).unwrap();
    assert!(close(n3, 1819f64.powf(1.0 / 3.0)));

    // No gradients at all: norm 0; a bad norm type: an error.
    let p = Tensor::<f64, Cpu>::zeros([2], &Cpu)
        .unwrap()
        .requires_grad_(true);
    assert_eq!(
        clip_grad_norm_(std::slice::from_ref(&p), 1.0, 2.0).unwrap(),
        0.0
    );
    assert!(clip_grad_norm_(&[p], 1.0, 0.0).is_err());
}

#[test]
fn clipping_a_shared_gradient_scales_each_parameter_once() {
    // Σ (p + q): p and q may receive one gradient buffer; each must be scaled exactly once.
    let p = Tensor::from_vec(vec![0.0f64; 2], [2], &Cpu)
        .unwrap()
        .requires_grad_(true);
    let q = Tensor::from_vec(vec![0.0f64; 2], [2], &Cpu)
        .unwrap()
        .requires_grad_(true);
    p.add(&q).unwrap().sum_all().unwrap().backward().unwrap();
    let total = clip_grad_norm_(&[p.clone(), q.clone()], 1.0, 2.0).unwrap();
    assert_eq!(total, 2.0);
    let c = 1.0 / (2.0 + 1e-6);
    assert_eq!(p.grad().unwrap().to_vec().unwrap(), vec![c, c]);
    assert_eq!(q.grad().unwrap().to_vec().unwrap(), vec![c, c]);
}

#[test]
fn clip_grad_value_clamps() {
    let ps = with_grads(&[&[3.0, -4.0, 0.5], &[-12.0]]);
    clip_grad_value_(&ps, 1.0).unwrap();
    assert_eq!(grads(&ps), vec![vec![1.0, -1.0, 0.5], vec![-1.0]]);
    assert!(clip_grad_value_(&ps, -1.0).is_err());
}
