//! The Kullback-Leibler divergence.

use super::{check_same_shape, KlReduction};
use nanotorch_autograd::Tensor;
use nanotorch_ndarray_core::{Backend, BinaryOp, Float, Result};

/// The Kullback-Leibler divergence loss (`F.kl_div`), with `input` log-probabilities and
/// `target` probabilities (or log-probabilities when `log_target`), of the same shape:
///
/// - `log_target = false`: `target·(log target − input)`, taken as 0 where `target = 0`;
/// - `log_target = true`: `e^target·(target − input)`.
///
/// [`KlReduction::BatchMean`] (sum / batch size) gives the mathematical KL divergence per
/// sample; `Mean` (PyTorch's default) divides by the number of elements instead.
pub fn kl_div<E: Float, B: Backend>(
    input: &Tensor<E, B>,
    target: &Tensor<E, B>,
    reduction: KlReduction,
    log_target: bool,
) -> Result<Tensor<E, B>> {
    check_same_shape("kl_div", input, target)?;
    let loss = if log_target {
        target.exp()?.mul(&target.sub(input)?)?
    } else {
        // xlogy(t, t) − t·input, with xlogy(0, ·) = 0: log of a safe 1 where t = 0 keeps the
        // gradient finite there
        let zero = target.compare_scalar(BinaryOp::Eq, E::ZERO)?.detach();
        let safe = target.masked_fill(&zero, E::ONE)?;
        let t_log_t = target.mul(&safe.log()?)?;
        t_log_t.sub(&target.mul(input)?)?
    };
    match reduction {
        KlReduction::None => Ok(loss),
        KlReduction::Mean => loss.mean_all(),
        KlReduction::Sum => loss.sum_all(),
        KlReduction::BatchMean if input.rank() == 0 => loss.sum_all(),
        KlReduction::BatchMean => loss
            .sum_all()?
            .div_scalar(E::from_f64(input.dims()[0] as f64)),
    }
}
