//! Fused ops that stand for a chain of simpler ones: `causal_softmax` (attention's scale, causal
//! mask and softmax in one node). Each is checked against the chain it replaces (values and
//! gradients) and by f64 central differences.

use nanotorch_autograd::{gradcheck, manual_seed, GradcheckOptions, Tensor};
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::Result;

/// The chain `causal_softmax` replaces: scale, `where(j ≤ i, ·, −∞)`, softmax.
fn composed<E: nanotorch_ndarray_core::Float>(
    x: &Tensor<E, Cpu>,
    scale: E,
) -> Result<Tensor<E, Cpu>> {
    let r = x.rank();
    let (l, s) = (x.dims()[r - 2], x.dims()[r - 1]);
    let rows = Tensor::<E, Cpu>::arange(0.0, l as f64, 1.0, &Cpu)?.reshape([l, 1])?;
    let cols = Tensor::<E, Cpu>::arange(0.0, s as f64, 1.0, &Cpu)?.reshape([1, s])?;
    let allowed = cols.le(&rows)?;
    let fill = Tensor::scalar(E::from_f64(f64::NEG_INFINITY), &Cpu)?;
    Tensor::where_cond(&allowed, &x.mul_scalar(scale)?, &fill)?.softmax(-1)
}

/// `[batch..., L, S]` shapes with L < S, L = S, L > S, one batch axis, two, none.
const SHAPES: &[&[usize]] = &[
    &[3, 3],
    &[2, 3, 5],
    &[2, 5, 3],
    &[2, 2, 4, 4],
    &[1, 1],
    &[4, 1],
];

#[test]
fn causal_softmax_gives_the_values_of_the_composed_chain() -> Result<()> {
    manual_seed(7);
    for &shape in SHAPES {
        let x = Tensor::<f32, Cpu>::randn(shape.to_vec(), &Cpu)?;
        let fused = x.causal_softmax(0.35)?.to_vec()?;
        let chain = composed(&x, 0.35)?.to_vec()?;
        // The same operations in the same order: the same bits.
        assert_eq!(fused, chain, "shape {shape:?}");
        // Masked weights are exactly 0 and each row sums to 1.
        let s = shape[shape.len() - 1];
        let l = shape[shape.len() - 2];
        for (row, w) in fused.chunks(s).enumerate() {
            let i = row % l;
            assert!(w[i.min(s - 1) + 1..].iter().all(|&v| v == 0.0));
            assert!((w.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
    }
    Ok(())
}

#[test]
fn causal_softmax_gradient_matches_the_composed_chain() -> Result<()> {
    manual_seed(11);
    for &shape in SHAPES {
        let x = Tensor::<f64, Cpu>::randn(shape.to_vec(), &Cpu)?.requires_grad_(true);
        let w = Tensor::<f64, Cpu>::randn(shape.to_vec(), &Cpu)?;
        x.causal_softmax(0.7)?.mul(&w)?.sum_all()?.backward()?;
        let fused = x.grad().expect("a gradient").to_vec()?;
        let y = x.detach().requires_grad_(true);
        composed(&y, 0.7)?.mul(&w)?.sum_all()?.backward()?;
        let chain = y.grad().expect("a gradient").to_vec()?;
        for (a, b) in fused.iter().zip(&chain) {
            assert!((a - b).abs() <= 1e-12, "shape {shape:?}: {a} vs {b}");
        }
    }
    Ok(())
}

#[test]
fn gradcheck_causal_softmax() -> Result<()> {
    manual_seed(3);
    for &shape in SHAPES {
        for scale in [1.0, 0.25, -1.5] {
            let x = Tensor::<f64, Cpu>::randn(shape.to_vec(), &Cpu)?.requires_grad_(true);
            gradcheck(
                move |xs: &[Tensor<f64, Cpu>]| xs[0].causal_softmax(scale),
                &[x],
                GradcheckOptions::default(),
            )?;
        }
    }
    Ok(())
}

#[test]
fn causal_softmax_needs_two_axes() {
    let x = Tensor::<f32, Cpu>::ones([3], &Cpu).expect("ones");
    assert!(x.causal_softmax(1.0).is_err());
}
