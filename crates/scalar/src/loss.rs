//! The loss of micrograd's moons demo: a support-vector machine's max-margin loss plus L2.

use crate::value::Value;

/// `mean(relu(1 − yᵢ·scoreᵢ)) + alpha · Σ p²` over labels `yᵢ ∈ {−1, 1}`.
///
/// The hinge term is 0 for a point on the right side with a margin of at least 1, and grows
/// linearly the further a point is on the wrong side: only points near or past the boundary push
/// the weights. The L2 term keeps the weights small, so the boundary stays smooth.
pub fn max_margin_loss(
    scores: &[Value],
    labels: &[f64],
    parameters: &[Value],
    alpha: f64,
) -> Value {
    let hinge: Value = scores
        .iter()
        .zip(labels)
        .map(|(s, &y)| (1.0 - y * s).relu())
        .sum();
    let l2: Value = parameters.iter().map(|p| p * p).sum();
    hinge / scores.len() as f64 + alpha * l2
}

/// The fraction of `scores` whose sign matches the label's.
pub fn accuracy(scores: &[Value], labels: &[f64]) -> f64 {
    let correct = scores
        .iter()
        .zip(labels)
        .filter(|(s, &y)| (s.data() > 0.0) == (y > 0.0))
        .count();
    correct as f64 / scores.len() as f64
}
