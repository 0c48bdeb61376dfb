//! End to end through the data layer: the bundled digits, normalized by a transform, batched by a
//! shuffling loader with worker threads, turned into autograd tensors (the facade's
//! `IntoTensors`), are learnable. Softmax regression (64 → 10) trained by plain SGD must beat 90%
//! test accuracy (chance is 10%); the same seed must give the same numbers with 0 and 2 workers.

use nanotorch::array::BinaryOp;
use nanotorch::data::{datasets, DataLoader, IntoTensors, Normalize, Transformed};
use nanotorch::{Cpu, Result, Tensor};
use std::sync::Arc;

fn train(workers: usize) -> Result<(f32, f64)> {
    let (train, test) = datasets::digits()?;
    let scale = || Normalize::scalar(0.0, 16.0);
    let train = Arc::new(Transformed::new(train, scale()?, 0));
    let test = Arc::new(Transformed::new(test, scale()?, 0));

    let w = Tensor::<f32, Cpu>::zeros([64, 10], &Cpu)?.requires_grad_(true);
    let b = Tensor::<f32, Cpu>::zeros([10], &Cpu)?.requires_grad_(true);
    let lr = 0.5f32;
    let loader = DataLoader::new(train, 32)
        .shuffle(true)
        .seed(3)
        .num_workers(workers);
    let mut last_loss = 0.0;
    for _epoch in 0..8 {
        for batch in loader.iter() {
            let (x, y) = batch?.into_tensors(&Cpu)?;
            let logits = x.matmul(&w)?.add(&b)?;
            let index = Tensor::from_ndarray(y.array().unsqueeze(1)?); // [n, 1]
            let picked = logits.log_softmax(-1)?.gather(1, &index)?;
            let loss = picked.mean_all()?.neg()?;
            loss.backward()?;
            for p in [&w, &b] {
                let g = p.grad().expect("a parameter has a gradient");
                p.array()
                    .binary_assign(BinaryOp::Sub, &g.array().mul_scalar(lr)?)?;
                p.zero_grad();
            }
            last_loss = loss.item()?;
        }
    }

    let mut correct = 0usize;
    let mut total = 0usize;
    for batch in &DataLoader::new(test, 100).num_workers(workers) {
        let (x, y) = batch?.into_tensors(&Cpu)?;
        let pred = x.matmul(&w)?.add(&b)?.argmax(Some(-1), false)?;
        let (pred, y) = (pred.array().to_vec()?, y.array().to_vec()?);
        correct += pred.iter().zip(&y).filter(|(p, t)| p == t).count();
        total += y.len();
    }
    assert_eq!(total, datasets::DIGITS_TEST);
    Ok((last_loss, correct as f64 / total as f64))
}

#[test]
fn digits_are_learnable_through_the_loader_and_reproducible() -> Result<()> {
    let (loss0, acc0) = train(0)?;
    eprintln!("softmax regression on digits: final batch loss {loss0:.4}, test accuracy {acc0:.4}");
    assert!(acc0 > 0.9, "test accuracy {acc0}");
    let (loss2, acc2) = train(2)?;
    assert_eq!((loss0, acc0), (loss2, acc2));
    Ok(())
}
