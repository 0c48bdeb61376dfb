//! Cross-entropy's fused node (no class weights, no label smoothing: `Tensor::cross_entropy_rows`,
//! one pass over the logits each way) against the definition worked out here in f64 —
//! `loss = lse(x) − x[t]`, gradient `softmax(x) − one_hot(t)` — and against the composed path
//! (log_softmax + gather), which a weight of all ones takes. Second derivatives (create_graph)
//! agree with the composed path too.

use nanotorch_autograd::{grad, BackwardOptions, Tensor};
use nanotorch_backend_cpu::Cpu;
use nanotorch_nn::functional::{cross_entropy_opts, CrossEntropyOptions, Reduction};

type T = Tensor<f64, Cpu>;

const ROWS: usize = 5;
const CLASSES: usize = 4;

fn logits() -> T {
    let v: Vec<f64> = (0..ROWS * CLASSES)
        .map(|i| ((i * 37 % 11) as f64 - 5.0) * 0.7)
        .collect();
    Tensor::from_vec(v, [ROWS, CLASSES], &Cpu)
        .unwrap()
        .requires_grad_(true)
}

fn targets(t: &[i64]) -> Tensor<i64, Cpu> {
    Tensor::from_slice(t, [t.len()], &Cpu).unwrap()
}

/// Per row: (loss, d loss / d logits) from the definition; `None` where ignored.
fn reference(x: &[f64], t: &[i64], ignore: i64) -> Vec<Option<(f64, Vec<f64>)>> {
    x.chunks(CLASSES)
        .zip(t)
        .map(|(row, &t)| {
            (t != ignore).then(|| {
                let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
                let grad = (0..CLASSES)
                    .map(|c| (row[c] - lse).exp() - if c as i64 == t { 1.0 } else { 0.0 })
                    .collect();
                (lse - row[t as usize], grad)
            })
        })
        .collect()
}

/// d out / d x, recorded (differentiable again) when `create_graph`.
fn grad_of(out: &T, x: &T, create_graph: bool) -> T {
    let options = BackwardOptions {
        create_graph,
        ..Default::default()
    };
    grad(out, None, &[x], options)
        .unwrap()
        .remove(0)
        .expect("a gradient")
}

fn close(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= 1e-12 * (1.0 + w.abs()),
            "{what}: {got:?} vs {want:?}"
        );
    }
}

#[test]
fn values_and_gradients_follow_the_definition_for_every_reduction() {
    for (t, ignore) in [
        (vec![0i64, 3, 1, 2, 2], -100),
        (vec![0, -100, 3, -100, 1], -100),
        (vec![2, 2, 0, 1, 3], 2),
    ] {
        let x = logits();
        let host = x.to_vec().unwrap();
        let want = reference(&host, &t, ignore);
        let counted = want.iter().flatten().count() as f64;
        for reduction in [Reduction::None, Reduction::Sum, Reduction::Mean] {
            let opts = CrossEntropyOptions::new()
                .reduction(reduction)
                .ignore_index(ignore);
            let loss = cross_entropy_opts(&x, &targets(&t), &opts).unwrap();
            if reduction == Reduction::None {
                assert_eq!(loss.op_name(), Some("cross_entropy"), "the fused node ran");
            }
            let per_row: Vec<f64> = want
                .iter()
                .map(|r| r.as_ref().map_or(0.0, |r| r.0))
                .collect();
            let (value, scale) = match reduction {
                Reduction::None => (per_row.clone(), 1.0),
                Reduction::Sum => (vec![per_row.iter().sum()], 1.0),
                Reduction::Mean => (vec![per_row.iter().sum::<f64>() / counted], 1.0 / counted),
            };
            let what = format!("targets {t:?}, {reduction:?}");
            close(&loss.to_vec().unwrap(), &value, &what);
            let g = grad_of(&loss.sum_all().unwrap(), &x, false);
            let want_grad: Vec<f64> = want
                .iter()
                .flat_map(|r| match r {
                    Some((_, g)) => g.iter().map(|v| v * scale).collect(),
                    None => vec![0.0; CLASSES],
                })
                .collect();
            close(&g.to_vec().unwrap(), &want_grad, &what);
        }
    }
}

#[test]
fn an_unbatched_input_and_the_composed_path_agree() {
    let x = logits();
    let t = [1i64, 0, 3, -100, 2];
    let ones = T::ones([CLASSES], &Cpu).unwrap();
    for reduction in [Reduction::None, Reduction::Sum, Reduction::Mean] {
        let fused = cross_entropy_opts(
            &x,
            &targets(&t),
            &CrossEntropyOptions::new().reduction(reduction),
        )
        .unwrap();
        let composed_opts = CrossEntropyOptions::new()
            .reduction(reduction)
            .weight(ones.clone());
        let composed = cross_entropy_opts(&x, &targets(&t), &composed_opts).unwrap();
        assert_ne!(composed.op_name(), Some("cross_entropy"));
        close(
            &fused.to_vec().unwrap(),
            &composed.to_vec().unwrap(),
            &format!("{reduction:?}"),
        );
    }
    // [classes] logits with a 0-d target: the batch of one, the result 0-d.
    let row = T::from_slice(&[0.5, -1.0, 2.0, 0.25], [CLASSES], &Cpu).unwrap();
    let one = Tensor::from_vec(vec![2i64], Vec::<usize>::new(), &Cpu).unwrap();
    for reduction in [Reduction::None, Reduction::Mean] {
        let loss = cross_entropy_opts(&row, &one, &CrossEntropyOptions::new().reduction(reduction))
            .unwrap();
        assert_eq!(loss.dims(), &[] as &[usize]);
        let want = reference(&row.to_vec().unwrap(), &[2], -100)[0]
            .clone()
            .unwrap()
            .0;
        close(
            &loss.to_vec().unwrap(),
            &[want],
            &format!("unbatched {reduction:?}"),
        );
    }
}

#[test]
fn second_derivatives_agree_with_the_composed_path() {
    // Hessian-vector product: d/dx Σ v ⊙ (d loss / dx), for a fixed v.
    let v: Vec<f64> = (0..ROWS * CLASSES)
        .map(|i| ((i * 7 % 5) as f64 - 2.0) * 0.3)
        .collect();
    let v = T::from_vec(v, [ROWS, CLASSES], &Cpu).unwrap();
    let t = targets(&[3, -100, 0, 1, 1]);
    let hvp = |opts: &CrossEntropyOptions<f64, Cpu>| {
        let x = logits();
        let loss = cross_entropy_opts(&x, &t, opts).unwrap();
        let g = grad_of(&loss, &x, true);
        grad_of(&g.mul(&v).unwrap().sum_all().unwrap(), &x, false)
            .to_vec()
            .unwrap()
    };
    let fused = hvp(&CrossEntropyOptions::new());
    let composed = hvp(&CrossEntropyOptions::new().weight(T::ones([CLASSES], &Cpu).unwrap()));
    assert!(fused.iter().any(|h| h.abs() > 1e-3), "{fused:?}");
    close(&fused, &composed, "Hessian-vector product");
}
