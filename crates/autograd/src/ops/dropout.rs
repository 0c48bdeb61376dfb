//! Inverted dropout, as PyTorch: in training, each element is zeroed with probability `p` and
//! the survivors are scaled by `1/(1−p)`, so evaluation needs no rescaling. The mask is drawn from
//! the global seeded generator, so `manual_seed` makes it reproducible; the gradient flows
//! through the multiplication by the mask.

use crate::{in_op, Tensor};
use nanotorch_ndarray_core::{Backend, Error, Float, RandomDist, Result};

impl<E: Float, B: Backend> Tensor<E, B> {
    /// Zeroes each element with probability `p` and scales the rest by `1/(1−p)` when `training`;
    /// the identity otherwise (inverted dropout, as PyTorch).
    #[track_caller]
    pub fn dropout(&self, p: f64, training: bool) -> Result<Self> {
        if !(0.0..=1.0).contains(&p) {
            return Err(Error::invalid(
                "dropout",
                format!("probability {p} is outside [0, 1]"),
                self.shape(),
            ));
        }
        if !training || p == 0.0 {
            return Ok(self.clone());
        }
        if p == 1.0 {
            return self.mul_scalar(E::ZERO);
        }
        in_op("dropout", || {
            let keep = Tensor::random(
                self.shape().clone(),
                RandomDist::Bernoulli { p: 1.0 - p },
                self.backend(),
            )?;
            self.mul(&keep.mul_scalar(E::from_f64(1.0 / (1.0 - p)))?)
        })
    }
}
