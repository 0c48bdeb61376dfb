//! Every loss against PyTorch's documented formulas, worked out here in f64 on small cases.
//!
//! The expected values are computed from the formulas in each test (log-softmax by hand, the
//! clamped logs of BCE, the stable log-sigmoid, …), never copied from our own output.

use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;
use nanotorch_nn::functional::{
    binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, cross_entropy_opts,
    cross_entropy_probs, cross_entropy_with, kl_div, nll_loss, nll_loss_opts, CrossEntropyOptions,
    KlReduction, NllLossOptions, Reduction,
};
use nanotorch_nn::{
    BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, KLDivLoss, L1Loss, MSELoss, NLLLoss,
    SmoothL1Loss,
};

type T = Tensor<f64, Cpu>;
type Opts = CrossEntropyOptions<f64, Cpu>;

fn t(data: &[f64], shape: &[usize]) -> T {
    Tensor::from_slice(data, shape.to_vec(), &Cpu).unwrap()
}

fn labels(data: &[i64], shape: &[usize]) -> Tensor<i64, Cpu> {
    Tensor::from_slice(data, shape.to_vec(), &Cpu).unwrap()
}

fn close(got: f64, want: f64) {
    assert!(
        (got - want).abs() <= 1e-10 * (1.0 + want.abs()),
        "got {got}, want {want}"
    );
}

fn close_all(got: &T, want: &[f64]) {
    let got = got.to_vec().unwrap();
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        close(*g, *w);
    }
}

fn item(x: T) -> f64 {
    x.item().unwrap()
}

/// `log_softmax` of one row, by hand: `x_c − ln Σ e^{x_k}` (shifted by the max).
fn log_softmax(row: &[f64]) -> Vec<f64> {
    let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let lse = m + row.iter().map(|x| (x - m).exp()).sum::<f64>().ln();
    row.iter().map(|x| x - lse).collect()
}

const LOGITS: [f64; 12] = [
    0.5, -1.0, 2.0, // row 0
    1.5, 0.3, -0.7, // row 1
    -0.2, 0.8, 0.1, // row 2
    2.2, -1.3, 0.4, // row 3
];
const WEIGHT: [f64; 3] = [0.2, 1.0, 3.0];

fn rows() -> Vec<Vec<f64>> {
    LOGITS.chunks(3).map(log_softmax).collect()
}

// ---------------------------------------------------------------------------------------------
// Cross-entropy and NLL with class-index targets

#[test]
fn cross_entropy_class_weights_use_the_weighted_mean() {
    let x = t(&LOGITS, &[4, 3]);
    let y = labels(&[2, 0, 1, 1], &[4]);
    let lp = rows();
    let targets = [2usize, 0, 1, 1];
    // loss_i = −w[t_i]·lp[i][t_i]; mean = Σ loss_i / Σ w[t_i]
    let per: Vec<f64> = (0..4)
        .map(|i| -WEIGHT[targets[i]] * lp[i][targets[i]])
        .collect();
    let wsum: f64 = targets.iter().map(|&c| WEIGHT[c]).sum();
    let opts = Opts::new().weight(t(&WEIGHT, &[3]));
    close(
        item(cross_entropy_opts(&x, &y, &opts).unwrap()),
        per.iter().sum::<f64>() / wsum,
    );
    let none = cross_entropy_opts(&x, &y, &opts.clone().reduction(Reduction::None)).unwrap();
    close_all(&none, &per);
    close(
        item(cross_entropy_opts(&x, &y, &opts.clone().reduction(Reduction::Sum)).unwrap()),
        per.iter().sum(),
    );
    // unweighted: the plain mean of −lp[i][t_i]
    let plain: f64 = (0..4).map(|i| -lp[i][targets[i]]).sum::<f64>() / 4.0;
    close(item(cross_entropy(&x, &y).unwrap()), plain);
}

#[test]
fn cross_entropy_ignore_index_drops_targets_from_sum_and_divisor() {
    let x = t(&LOGITS, &[4, 3]);
    let lp = rows();
    // PyTorch's default ignore_index is −100, also for the plain function
    let y = labels(&[2, -100, 1, -100], &[4]);
    let want = (-lp[0][2] - lp[2][1]) / 2.0;
    close(item(cross_entropy(&x, &y).unwrap()), want);
    let none = cross_entropy_with(&x, &y, Reduction::None).unwrap();
    close_all(&none, &[-lp[0][2], 0.0, -lp[2][1], 0.0]);
    // a custom ignore_index, with weights: mean divides by the weights of the kept targets only
    let y = labels(&[2, 0, 1, 0], &[4]);
    let opts = Opts::new().ignore_index(0).weight(t(&WEIGHT, &[3]));
    let want = (-3.0 * lp[0][2] - 1.0 * lp[2][1]) / (3.0 + 1.0);
    close(item(cross_entropy_opts(&x, &y, &opts).unwrap()), want);
    let sum = cross_entropy_opts(&x, &y, &opts.clone().reduction(Reduction::Sum)).unwrap();
    close(item(sum), -3.0 * lp[0][2] - lp[2][1]);
    // every target ignored: 0/0, NaN as in PyTorch; sum is 0
    let all = labels(&[-100, -100, -100, -100], &[4]);
    assert!(item(cross_entropy(&x, &all).unwrap()).is_nan());
    close(
        item(cross_entropy_with(&x, &all, Reduction::Sum).unwrap()),
        0.0,
    );
}

#[test]
fn cross_entropy_label_smoothing_follows_pytorch() {
    let x = t(&LOGITS, &[4, 3]);
    let lp = rows();
    let eps = 0.1;
    let c = 3.0;
    // unweighted: (1 − ε)·(−lp[t]) + (ε / C)·(−Σ_c lp[c]), mean over the rows
    let targets = [2usize, 0, 1, 1];
    let y = labels(&[2, 0, 1, 1], &[4]);
    let per: Vec<f64> = (0..4)
        .map(|i| (1.0 - eps) * -lp[i][targets[i]] + eps / c * -lp[i].iter().sum::<f64>())
        .collect();
    let opts = Opts::new().label_smoothing(eps);
    close(
        item(cross_entropy_opts(&x, &y, &opts).unwrap()),
        per.iter().sum::<f64>() / 4.0,
    );
    close_all(
        &cross_entropy_opts(&x, &y, &opts.clone().reduction(Reduction::None)).unwrap(),
        &per,
    );

    // weighted, with an ignored row, as PyTorch's cross_entropy computes it:
    //   nll  = Σ_kept w[t]·(−lp[t]) / Σ_kept w[t]
    //   smooth = Σ_kept (−Σ_c w[c]·lp[c]) / Σ_kept w[t]
    //   loss = (1 − ε)·nll + (ε / C)·smooth
    let y = labels(&[2, 0, -100, 1], &[4]);
    let kept = [(0usize, 2usize), (1, 0), (3, 1)];
    let wsum: f64 = kept.iter().map(|&(_, k)| WEIGHT[k]).sum();
    let nll: f64 = kept
        .iter()
        .map(|&(i, k)| -WEIGHT[k] * lp[i][k])
        .sum::<f64>()
        / wsum;
    let smooth_row = |i: usize| -> f64 { -(0..3).map(|k| WEIGHT[k] * lp[i][k]).sum::<f64>() };
    let smooth: f64 = kept.iter().map(|&(i, _)| smooth_row(i)).sum::<f64>() / wsum;
    let opts = Opts::new().label_smoothing(eps).weight(t(&WEIGHT, &[3]));
    close(
        item(cross_entropy_opts(&x, &y, &opts).unwrap()),
        (1.0 - eps) * nll + eps / c * smooth,
    );
    // reduction none: per row, 0 where ignored
    let none: Vec<f64> = (0..4)
        .map(|i| match kept.iter().find(|&&(r, _)| r == i) {
            Some(&(_, k)) => (1.0 - eps) * -WEIGHT[k] * lp[i][k] + eps / c * smooth_row(i),
            None => 0.0,
        })
        .collect();
    close_all(
        &cross_entropy_opts(&x, &y, &opts.clone().reduction(Reduction::None)).unwrap(),
        &none,
    );
    // ε = 1 is the uniform target; ε outside [0, 1] is an error
    assert!(cross_entropy_opts(&x, &y, &Opts::new().label_smoothing(1.0)).is_ok());
    let err = cross_entropy_opts(&x, &y, &Opts::new().label_smoothing(1.5))
        .unwrap_err()
        .to_string();
    assert!(err.contains("label_smoothing"), "{err}");
}

#[test]
fn cross_entropy_spatial_and_unbatched_shapes() {
    // input [n=2, C=3, d=2]: the class axis is 1; targets [2, 2]
    let data = [
        0.1, 1.0, // (0, c=0, ·)
        -0.5, 2.0, // (0, c=1, ·)
        0.7, -0.3, // (0, c=2, ·)
        1.2, 0.0, // (1, c=0, ·)
        0.4, 0.9, // (1, c=1, ·)
        -1.0, 0.3, // (1, c=2, ·)
    ];
    let x = t(&data, &[2, 3, 2]);
    let tg = [[2usize, 1], [0, 2]];
    let y = labels(&[2, 1, 0, 2], &[2, 2]);
    let mut per = Vec::new();
    for (n, row) in tg.iter().enumerate() {
        for (j, &k) in row.iter().enumerate() {
            let column: Vec<f64> = (0..3).map(|c| data[n * 6 + c * 2 + j]).collect();
            per.push(-log_softmax(&column)[k]);
        }
    }
    let none = cross_entropy_with(&x, &y, Reduction::None).unwrap();
    assert_eq!(none.dims(), &[2, 2]);
    close_all(&none, &per);
    close(
        item(cross_entropy(&x, &y).unwrap()),
        per.iter().sum::<f64>() / 4.0,
    );
    // with a weight and label smoothing too
    let eps = 0.2;
    let mut num = 0.0;
    let mut den = 0.0;
    for (n, row) in tg.iter().enumerate() {
        for (j, &k) in row.iter().enumerate() {
            let column: Vec<f64> = (0..3).map(|c| data[n * 6 + c * 2 + j]).collect();
            let lp = log_softmax(&column);
            let smooth: f64 = -(0..3).map(|c| WEIGHT[c] * lp[c]).sum::<f64>();
            num += (1.0 - eps) * -WEIGHT[k] * lp[k] + eps / 3.0 * smooth;
            den += WEIGHT[k];
        }
    }
    let opts = Opts::new().weight(t(&WEIGHT, &[3])).label_smoothing(eps);
    close(item(cross_entropy_opts(&x, &y, &opts).unwrap()), num / den);

    // unbatched: logits [C], a 0-d target
    let x = t(&[0.5, -1.0, 2.0], &[3]);
    let y = Tensor::from_vec(vec![1i64], Vec::<usize>::new(), &Cpu).unwrap();
    let lp = log_softmax(&[0.5, -1.0, 2.0]);
    close(item(cross_entropy(&x, &y).unwrap()), -lp[1]);
    let none = cross_entropy_with(&x, &y, Reduction::None).unwrap();
    assert_eq!(none.rank(), 0);
    close(item(none), -lp[1]);
}

#[test]
fn cross_entropy_errors_are_clear() {
    let x = t(&LOGITS, &[4, 3]);
    for bad in [3i64, -1] {
        let y = labels(&[0, 1, bad, 2], &[4]);
        let err = cross_entropy(&x, &y).unwrap_err().to_string();
        assert!(
            err.contains("cross_entropy") && err.contains(&format!("target {bad}")),
            "{err}"
        );
    }
    // targets of the wrong length or rank: the op and both shapes are named
    let err = cross_entropy(&x, &labels(&[0, 1, 2], &[3]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cross_entropy") && err.contains("[4, 3]") && err.contains("[3]"),
        "{err}"
    );
    let err = cross_entropy(&x, &labels(&[0, 1, 2, 0], &[2, 2]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("[4, 3]") && err.contains("[2, 2]"), "{err}");
    // a weight with the wrong number of classes
    let err = cross_entropy_opts(
        &x,
        &labels(&[0, 1, 2, 0], &[4]),
        &Opts::new().weight(t(&[1.0, 2.0], &[2])),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("weight") && err.contains("[4, 3]") && err.contains("[2]"),
        "{err}"
    );
    // nll names itself
    let err = nll_loss(&x, &labels(&[0, 7, 2, 0], &[4]), Reduction::Mean)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("nll_loss") && err.contains("target 7"),
        "{err}"
    );
}

#[test]
fn nll_loss_weight_and_ignore_index() {
    // input taken as given (log-probabilities or not, NLL only picks and negates)
    let x = t(&LOGITS, &[4, 3]);
    let y = labels(&[2, 1, 1, 0], &[4]);
    close(
        item(nll_loss(&x, &y, Reduction::Sum).unwrap()),
        -(2.0 + 0.3 + 0.8 + 2.2),
    );
    let opts = NllLossOptions::new()
        .weight(t(&WEIGHT, &[3]))
        .ignore_index(1);
    // kept: row 0 (class 2, w 3) and row 3 (class 0, w 0.2)
    let want = (-3.0 * 2.0 - 0.2 * 2.2) / (3.0 + 0.2);
    close(item(nll_loss_opts(&x, &y, &opts).unwrap()), want);
    let none = nll_loss_opts(&x, &y, &opts.clone().reduction(Reduction::None)).unwrap();
    close_all(&none, &[-6.0, 0.0, 0.0, -0.44]);
    // the module form
    let module = NLLLoss::new().weight(t(&WEIGHT, &[3])).ignore_index(1);
    close(item(module.forward(&x, &y).unwrap()), want);
}

// ---------------------------------------------------------------------------------------------
// Cross-entropy with probability targets

#[test]
fn cross_entropy_probability_targets() {
    let x = t(&LOGITS[..6], &[2, 3]);
    let p = [0.7, 0.2, 0.1, 0.0, 0.5, 0.5];
    let target = t(&p, &[2, 3]);
    let lp = rows();
    let row = |i: usize, w: &[f64], eps: f64| -> f64 {
        -(0..3)
            .map(|c| w[c] * lp[i][c] * ((1.0 - eps) * p[i * 3 + c] + eps / 3.0))
            .sum::<f64>()
    };
    let ones = [1.0; 3];
    let per = [row(0, &ones, 0.0), row(1, &ones, 0.0)];
    close(
        item(cross_entropy_probs(&x, &target, &Opts::new()).unwrap()),
        (per[0] + per[1]) / 2.0,
    );
    close_all(
        &cross_entropy_probs(&x, &target, &Opts::new().reduction(Reduction::None)).unwrap(),
        &per,
    );
    // weights: the mean still divides by the number of samples, not the weights
    let opts = Opts::new().weight(t(&WEIGHT, &[3])).label_smoothing(0.3);
    let want = (row(0, &WEIGHT, 0.3) + row(1, &WEIGHT, 0.3)) / 2.0;
    close(item(cross_entropy_probs(&x, &target, &opts).unwrap()), want);
    let sum = cross_entropy_probs(&x, &target, &opts.clone().reduction(Reduction::Sum)).unwrap();
    close(item(sum), want * 2.0);
    // one-hot targets give the class-index loss
    let onehot = t(&[0.0, 0.0, 1.0, 1.0, 0.0, 0.0], &[2, 3]);
    let idx = labels(&[2, 0], &[2]);
    close(
        item(cross_entropy_probs(&x, &onehot, &Opts::new()).unwrap()),
        item(cross_entropy(&x, &idx).unwrap()),
    );
    // the module takes either kind of target, as PyTorch's does
    let criterion = CrossEntropyLoss::new()
        .weight(t(&WEIGHT, &[3]))
        .label_smoothing(0.3);
    close(item(criterion.forward(&x, &target).unwrap()), want);
    let _ = criterion.forward(&x, &idx).unwrap();
    // errors: shape mismatch, ignore_index set to a class
    let err = cross_entropy_probs(&x, &t(&p[..3], &[1, 3]), &Opts::new())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cross_entropy") && err.contains("[2, 3]") && err.contains("[1, 3]"),
        "{err}"
    );
    let err = cross_entropy_probs(&x, &target, &Opts::new().ignore_index(0))
        .unwrap_err()
        .to_string();
    assert!(err.contains("ignore_index"), "{err}");
}

#[test]
fn cross_entropy_module_with_label_smoothing() {
    // criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
    let criterion = CrossEntropyLoss::new().label_smoothing(0.1);
    let x = t(&LOGITS, &[4, 3]);
    let y = labels(&[0, 1, 2, 0], &[4]);
    let lp = rows();
    let want = (0..4)
        .map(|i| {
            let k = [0usize, 1, 2, 0][i];
            0.9 * -lp[i][k] + 0.1 / 3.0 * -lp[i].iter().sum::<f64>()
        })
        .sum::<f64>()
        / 4.0;
    close(item(criterion.forward(&x, &y).unwrap()), want);
    let sum = CrossEntropyLoss::new()
        .label_smoothing(0.1)
        .reduction(Reduction::Sum)
        .forward(&x, &y)
        .unwrap();
    close(item(sum), want * 4.0);
}

// ---------------------------------------------------------------------------------------------
// Binary cross-entropy

/// PyTorch's BCE element: `−w·(t·max(ln x, −100) + (1 − t)·max(ln(1 − x), −100))`.
fn bce(x: f64, t: f64, w: f64) -> f64 {
    -w * (t * x.ln().max(-100.0) + (1.0 - t) * (1.0 - x).ln().max(-100.0))
}

#[test]
fn binary_cross_entropy_matches_the_clamped_formula() {
    let xs = [0.2, 0.9, 0.5, 0.0, 1.0, 0.35];
    let ts = [0.0, 1.0, 0.3, 1.0, 1.0, 0.0];
    let x = t(&xs, &[2, 3]);
    let y = t(&ts, &[2, 3]);
    let per: Vec<f64> = xs.iter().zip(&ts).map(|(&a, &b)| bce(a, b, 1.0)).collect();
    // x = 0 with t = 1 is −ln 0 clamped: exactly 100
    assert_eq!(per[3], 100.0);
    close_all(
        &binary_cross_entropy(&x, &y, None, Reduction::None).unwrap(),
        &per,
    );
    close(
        item(binary_cross_entropy(&x, &y, None, Reduction::Mean).unwrap()),
        per.iter().sum::<f64>() / 6.0,
    );
    // a weight per column [3] broadcasts over the rows; mean is the plain mean
    let w = [0.5, 2.0, 1.5];
    let weighted: Vec<f64> = (0..6).map(|i| bce(xs[i], ts[i], w[i % 3])).collect();
    let wt = t(&w, &[3]);
    close(
        item(binary_cross_entropy(&x, &y, Some(&wt), Reduction::Sum).unwrap()),
        weighted.iter().sum(),
    );
    let module = BCELoss::new().weight(wt.clone());
    close(
        item(module.forward(&x, &y).unwrap()),
        weighted.iter().sum::<f64>() / 6.0,
    );
    // errors: a value outside [0, 1], a shape mismatch, a weight that does not broadcast
    let err = binary_cross_entropy(
        &t(&[0.5, 1.5], &[2]),
        &t(&[0.0, 1.0], &[2]),
        None,
        Reduction::Mean,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("binary_cross_entropy") && err.contains("[0, 1]"),
        "{err}"
    );
    let err = binary_cross_entropy(&x, &t(&ts[..3], &[3]), None, Reduction::Mean)
        .unwrap_err()
        .to_string();
    assert!(err.contains("[2, 3]") && err.contains("[3]"), "{err}");
    assert!(binary_cross_entropy(&x, &y, Some(&t(&[1.0, 2.0], &[2])), Reduction::Mean).is_err());
}

#[test]
fn binary_cross_entropy_gradient_is_pytorchs_and_finite_at_the_edges() {
    // d/dx = w·(x − t) / max(x·(1 − x), 1e−12), divided by n for the mean
    let xs = [0.2, 0.0, 1.0, 0.6];
    let ts = [1.0, 1.0, 0.0, 0.6];
    let x = t(&xs, &[4]).requires_grad_(true);
    let y = t(&ts, &[4]).requires_grad_(true);
    binary_cross_entropy(&x, &y, None, Reduction::Mean)
        .unwrap()
        .backward()
        .unwrap();
    let gx = x.grad().unwrap().to_vec().unwrap();
    for i in 0..4 {
        let want = (xs[i] - ts[i]) / (xs[i] * (1.0 - xs[i])).max(1e-12) / 4.0;
        close(gx[i], want);
    }
    // d/dt = (max(ln(1 − x), −100) − max(ln x, −100)) / n
    let gt = y.grad().unwrap().to_vec().unwrap();
    for i in 0..4 {
        let want = ((1.0 - xs[i]).ln().max(-100.0) - xs[i].ln().max(-100.0)) / 4.0;
        close(gt[i], want);
    }
}

/// PyTorch's BCE-with-logits element in its documented form,
/// `−w·(pw·t·ln σ(x) + (1 − t)·ln(1 − σ(x)))`, with `ln σ(x)` evaluated stably.
fn bce_logits(x: f64, t: f64, w: f64, pw: f64) -> f64 {
    let log_sigmoid = |z: f64| -> f64 {
        if z >= 0.0 {
            -(-z).exp().ln_1p()
        } else {
            z - z.exp().ln_1p()
        }
    };
    // ln(1 − σ(x)) = ln σ(−x)
    -w * (pw * t * log_sigmoid(x) + (1.0 - t) * log_sigmoid(-x))
}

#[test]
fn binary_cross_entropy_with_logits_matches_the_formula() {
    let xs = [0.3, -1.2, 2.5, 0.0, -0.4, 1.1];
    let ts = [1.0, 0.0, 0.7, 1.0, 0.2, 0.0];
    let x = t(&xs, &[2, 3]);
    let y = t(&ts, &[2, 3]);
    let per: Vec<f64> = (0..6).map(|i| bce_logits(xs[i], ts[i], 1.0, 1.0)).collect();
    close_all(
        &binary_cross_entropy_with_logits(&x, &y, None, None, Reduction::None).unwrap(),
        &per,
    );
    close(
        item(binary_cross_entropy_with_logits(&x, &y, None, None, Reduction::Mean).unwrap()),
        per.iter().sum::<f64>() / 6.0,
    );
    // it agrees with BCE on sigmoid(x)
    close(
        item(binary_cross_entropy(&x.sigmoid().unwrap(), &y, None, Reduction::Sum).unwrap()),
        per.iter().sum(),
    );
    // pos_weight, one per class (the last axis), and a per-element weight
    let pw = [3.0, 0.5, 1.0];
    let w = [1.0, 2.0, 0.5, 0.25, 1.0, 4.0];
    let want: Vec<f64> = (0..6)
        .map(|i| bce_logits(xs[i], ts[i], w[i], pw[i % 3]))
        .collect();
    let (pwt, wt) = (t(&pw, &[3]), t(&w, &[2, 3]));
    close_all(
        &binary_cross_entropy_with_logits(&x, &y, Some(&wt), Some(&pwt), Reduction::None).unwrap(),
        &want,
    );
    let module = BCEWithLogitsLoss::new()
        .pos_weight(pwt.clone())
        .weight(wt.clone())
        .reduction(Reduction::Sum);
    close(item(module.forward(&x, &y).unwrap()), want.iter().sum());
    // errors: pos_weight with the wrong number of classes, target shape mismatch
    let err = binary_cross_entropy_with_logits(
        &x,
        &y,
        None,
        Some(&t(&[1.0, 2.0], &[2])),
        Reduction::Mean,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("binary_cross_entropy_with_logits")
            && err.contains("pos_weight")
            && err.contains("[2, 3]")
            && err.contains("[2]"),
        "{err}"
    );
    assert!(
        binary_cross_entropy_with_logits(&x, &t(&ts, &[6]), None, None, Reduction::Mean).is_err()
    );
}

#[test]
fn binary_cross_entropy_with_logits_is_stable_for_huge_logits() {
    // e^800 overflows f64; the stable form never forms it. Losses: x = 800, t = 1 → ~0;
    // x = 800, t = 0 → 800; x = −800, t = 1 → 800; x = −800, t = 0 → ~0.
    let x = t(&[800.0, 800.0, -800.0, -800.0], &[4]).requires_grad_(true);
    let y = t(&[1.0, 0.0, 1.0, 0.0], &[4]);
    let loss = binary_cross_entropy_with_logits(&x, &y, None, None, Reduction::None).unwrap();
    close_all(&loss, &[0.0, 800.0, 800.0, 0.0]);
    loss.sum_all().unwrap().backward().unwrap();
    // d/dx = σ(x) − t: 0, 1, −1, 0
    close_all(&x.grad().unwrap(), &[0.0, 1.0, -1.0, 0.0]);
}

// ---------------------------------------------------------------------------------------------
// KL divergence

#[test]
fn kl_div_matches_the_definition_for_every_reduction() {
    // input: log-probabilities [2, 3]; target: probabilities with a zero entry
    let inp = [0.3f64, 0.5, 0.2, 0.1, 0.1, 0.8].map(f64::ln);
    let tgt = [0.25, 0.25, 0.5, 0.0, 0.6, 0.4];
    let x = t(&inp, &[2, 3]);
    let y = t(&tgt, &[2, 3]);
    // target·(ln target − input), 0 where target = 0
    let per: Vec<f64> = (0..6)
        .map(|i| {
            if tgt[i] == 0.0 {
                0.0
            } else {
                tgt[i] * (tgt[i].ln() - inp[i])
            }
        })
        .collect();
    let sum: f64 = per.iter().sum();
    close_all(&kl_div(&x, &y, KlReduction::None, false).unwrap(), &per);
    close(item(kl_div(&x, &y, KlReduction::Sum, false).unwrap()), sum);
    close(
        item(kl_div(&x, &y, KlReduction::Mean, false).unwrap()),
        sum / 6.0,
    );
    close(
        item(kl_div(&x, &y, KlReduction::BatchMean, false).unwrap()),
        sum / 2.0,
    );
    // batchmean is the mean over rows of Σ_c p·ln(p/q), the textbook KL divergence
    let kl_row = |r: usize| -> f64 {
        (0..3)
            .map(|c| {
                let (p, q) = (tgt[r * 3 + c], inp[r * 3 + c].exp());
                if p == 0.0 {
                    0.0
                } else {
                    p * (p / q).ln()
                }
            })
            .sum()
    };
    close(
        item(kl_div(&x, &y, KlReduction::BatchMean, false).unwrap()),
        (kl_row(0) + kl_row(1)) / 2.0,
    );
    // log_target: e^target·(target − input); the same loss for the same distributions
    let log_tgt = [0.25f64, 0.25, 0.5, 0.1, 0.5, 0.4].map(f64::ln);
    let ly = t(&log_tgt, &[2, 3]);
    let per_log: Vec<f64> = (0..6)
        .map(|i| log_tgt[i].exp() * (log_tgt[i] - inp[i]))
        .collect();
    close_all(&kl_div(&x, &ly, KlReduction::None, true).unwrap(), &per_log);
    let module = KLDivLoss::new()
        .reduction(KlReduction::BatchMean)
        .log_target(true);
    close(
        item(module.forward(&x, &ly).unwrap()),
        per_log.iter().sum::<f64>() / 2.0,
    );
    // a plain Reduction converts; default is mean, as in PyTorch
    assert_eq!(KLDivLoss::new().reduction, KlReduction::Mean);
    assert_eq!(
        KLDivLoss::new().reduction(Reduction::Sum).reduction,
        KlReduction::Sum
    );
    // shape mismatch names the op and both shapes
    let err = kl_div(&x, &t(&tgt[..3], &[3]), KlReduction::Sum, false)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("kl_div") && err.contains("[2, 3]") && err.contains("[3]"),
        "{err}"
    );
}

#[test]
fn kl_div_gradient_is_finite_where_the_target_is_zero() {
    let x = t(&[-1.0, -0.5], &[2]).requires_grad_(true);
    let y = t(&[0.0, 0.7], &[2]).requires_grad_(true);
    kl_div(&x, &y, KlReduction::Sum, false)
        .unwrap()
        .backward()
        .unwrap();
    // d/dinput = −target
    close_all(&x.grad().unwrap(), &[0.0, -0.7]);
    // d/dtarget = ln t + 1 − input where t > 0
    let gy = y.grad().unwrap().to_vec().unwrap();
    assert!(gy[0].is_finite());
    close(gy[1], 0.7f64.ln() + 1.0 + 0.5);
}

// ---------------------------------------------------------------------------------------------
// Regression modules

#[test]
fn regression_modules_use_pytorchs_defaults() {
    // d = [0.5, −2, 0, 1.5]
    let a = t(&[1.0, -2.0, 3.0, 2.0], &[4]);
    let b = t(&[0.5, 0.0, 3.0, 0.5], &[4]);
    let d = [0.5f64, -2.0, 0.0, 1.5];
    let mse: f64 = d.iter().map(|v| v * v).sum::<f64>() / 4.0;
    close(item(MSELoss::new().forward(&a, &b).unwrap()), mse);
    let l1: f64 = d.iter().map(|v| v.abs()).sum();
    close(
        item(
            L1Loss::new()
                .reduction(Reduction::Sum)
                .forward(&a, &b)
                .unwrap(),
        ),
        l1,
    );
    // SmoothL1 with beta = 1: 0.5·d² if |d| < 1 else |d| − 0.5
    let sl1 = |beta: f64| -> Vec<f64> {
        d.iter()
            .map(|v| {
                if v.abs() < beta {
                    0.5 * v * v / beta
                } else {
                    v.abs() - 0.5 * beta
                }
            })
            .collect()
    };
    close(
        item(SmoothL1Loss::new().forward(&a, &b).unwrap()),
        sl1(1.0).iter().sum::<f64>() / 4.0,
    );
    close_all(
        &SmoothL1Loss::new()
            .beta(0.8)
            .reduction(Reduction::None)
            .forward(&a, &b)
            .unwrap(),
        &sl1(0.8),
    );
    // Huber with delta: 0.5·d² if |d| < delta else delta·(|d| − 0.5·delta)
    let huber = |delta: f64| -> f64 {
        d.iter()
            .map(|v| {
                if v.abs() < delta {
                    0.5 * v * v
                } else {
                    delta * (v.abs() - 0.5 * delta)
                }
            })
            .sum()
    };
    close(
        item(HuberLoss::new().forward(&a, &b).unwrap()),
        huber(1.0) / 4.0,
    );
    close(
        item(
            HuberLoss::new()
                .delta(1.7)
                .reduction(Reduction::Sum)
                .forward(&a, &b)
                .unwrap(),
        ),
        huber(1.7),
    );
    assert!(HuberLoss::new().delta(-1.0).forward(&a, &b).is_err());
    assert!(MSELoss::new().forward(&a, &t(&[1.0], &[1])).is_err());
}
