//! The end-to-end lesson: the data is what scikit-learn's `make_moons` draws, and the MLP learns
//! it with the settings of micrograd's demo (and of `examples/scalar_moons.rs`).

use nanotorch_scalar::{accuracy, make_moons, max_margin_loss, Module, Rng, Value, MLP};

#[test]
fn the_moons_lie_on_two_half_circles() {
    let (points, labels) = make_moons(101, 0.0, 3);
    assert_eq!(labels.iter().filter(|&&l| l == -1.0).count(), 50);
    assert_eq!(labels.iter().filter(|&&l| l == 1.0).count(), 51);
    for (p, &l) in points.iter().zip(&labels) {
        // Upper: on the unit circle around (0, 0), y ≥ 0. Lower: around (1, 0.5), y ≤ 0.5.
        let (cx, cy, upper) = if l < 0.0 {
            (0.0, 0.0, true)
        } else {
            (1.0, 0.5, false)
        };
        let r = ((p[0] - cx).powi(2) + (p[1] - cy).powi(2)).sqrt();
        assert!((r - 1.0).abs() < 1e-12, "{p:?} label {l}");
        assert!(if upper {
            p[1] >= -1e-12
        } else {
            p[1] <= 0.5 + 1e-12
        });
    }
    // Shuffled, and the same seed gives the same data.
    assert!(labels[..50].iter().any(|&l| l > 0.0));
    assert_eq!(make_moons(101, 0.1, 3), make_moons(101, 0.1, 3));
    assert_ne!(make_moons(101, 0.1, 3), make_moons(101, 0.1, 4));
}

#[test]
fn the_noise_has_the_requested_standard_deviation() {
    let (clean, _) = make_moons(4000, 0.0, 5);
    let (noisy, _) = make_moons(4000, 0.2, 5);
    let d: Vec<f64> = clean
        .iter()
        .zip(&noisy)
        .flat_map(|(c, n)| [n[0] - c[0], n[1] - c[1]])
        .collect();
    let mean = d.iter().sum::<f64>() / d.len() as f64;
    let std = (d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / d.len() as f64).sqrt();
    assert!(mean.abs() < 0.01, "mean {mean}");
    assert!((std - 0.2).abs() < 0.01, "std {std}");
}

#[test]
fn an_mlp_learns_the_moons_with_plain_sgd() {
    let (points, labels) = make_moons(100, 0.1, 1);
    let inputs: Vec<[Value; 2]> = points.iter().map(|p| p.map(Value::new)).collect();
    let model = MLP::new(2, &[16, 16, 1], &mut Rng::new(1337));
    let parameters = model.parameters();
    let scores = || -> Vec<Value> { inputs.iter().map(|x| model.forward(x)[0].clone()).collect() };
    let initial_accuracy = accuracy(&scores(), &labels);
    let steps = 100;
    for step in 0..steps {
        let loss = max_margin_loss(&scores(), &labels, &parameters, 1e-4);
        model.zero_grad();
        loss.backward();
        let lr = 1.0 - 0.9 * step as f64 / steps as f64;
        for p in &parameters {
            p.set_data(p.data() - lr * p.grad());
        }
    }
    let final_accuracy = accuracy(&scores(), &labels);
    assert!(initial_accuracy < 0.8, "{initial_accuracy}");
    assert!(final_accuracy > 0.95, "{final_accuracy}");
}
