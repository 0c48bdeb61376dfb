//! Channel dropout (`nn.Dropout1d`, `nn.Dropout2d`): whole feature maps are zeroed together.
//!
//! Neighbouring values of one feature map are strongly correlated, so zeroing them one by one
//! (plain [`Dropout`](crate::Dropout)) barely regularises a convolution: the survivors carry the
//! same signal. Dropping the whole channel does. The mask is plain dropout applied to a tensor of
//! ones with one element per channel, `[n, c, 1, …]`, so it shares the op, the `1/(1−p)` scaling,
//! the probability check and the seeded generator with `Dropout`; broadcasting spreads it over
//! the channel's positions and the gradient flows through the product.

use crate::module::{repr, Training};
use crate::{Forward, Module, Visitor};
use nanotorch_autograd::{in_op, Tensor};
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::{Backend, Error, Float, Result};

/// `x` times a mask of shape `x.dims()[..kept]` followed by ones: each of those leading
/// positions (sample, channel) is zeroed with probability `p`, the rest scaled by `1/(1−p)`.
fn channel_dropout<E: Float, B: Backend>(
    op: &'static str,
    x: &Tensor<E, B>,
    kept: usize,
    p: f64,
    training: bool,
) -> Result<Tensor<E, B>> {
    in_op(op, || {
        let mut mask_shape = x.dims().to_vec();
        mask_shape[kept..].iter_mut().for_each(|d| *d = 1);
        // drawn (and p checked) even when it goes unused, so a bad p fails in eval mode too
        let mask = Tensor::ones(mask_shape, x.backend())?.dropout(p, training)?;
        if !training || p == 0.0 {
            return Ok(x.clone());
        }
        x.mul(&mask)
    })
}

/// Channel dropout over `[n, c, l]`, or `[c, l]` without a batch axis (`F.dropout1d`): each
/// channel is zeroed with probability `p` when `training`, the others scaled by `1/(1−p)`.
/// Another rank is an error naming the op and the shape.
pub fn dropout1d<E: Float, B: Backend>(
    x: &Tensor<E, B>,
    p: f64,
    training: bool,
) -> Result<Tensor<E, B>> {
    if !matches!(x.rank(), 2 | 3) {
        return Err(Error::invalid(
            "dropout1d",
            format!(
                "expected a 2-D [c, l] or 3-D [n, c, l] input, got {}-D",
                x.rank()
            ),
            x.shape(),
        ));
    }
    // [c, l] keeps the channel axis only; [n, c, l] keeps sample and channel
    channel_dropout("dropout1d", x, x.rank() - 1, p, training)
}

/// Channel dropout over `[n, c, h, w]` (`F.dropout2d`): each `h × w` map is zeroed with
/// probability `p` when `training`, the others scaled by `1/(1−p)`.
///
/// A 3-D input is read as `[n, c, l]`, as PyTorch 2.x does (with a warning there): the mask is
/// per `(n, c)`, not per channel of an unbatched `[c, h, w]` image. Use [`dropout1d`] to say so,
/// or add the batch axis to get per-channel masks. Another rank is an error.
pub fn dropout2d<E: Float, B: Backend>(
    x: &Tensor<E, B>,
    p: f64,
    training: bool,
) -> Result<Tensor<E, B>> {
    if !matches!(x.rank(), 3 | 4) {
        return Err(Error::invalid(
            "dropout2d",
            format!(
                "expected a 4-D [n, c, h, w] (or 3-D [n, c, l]) input, got {}-D",
                x.rank()
            ),
            x.shape(),
        ));
    }
    channel_dropout("dropout2d", x, 2, p, training)
}

macro_rules! channel_dropout_layer {
    ($($(#[$doc:meta])* $name:ident => $f:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name {
            /// Probability of zeroing a channel.
            pub p: f64,
            training: Training,
        }

        impl $name {
            #[doc = concat!("`nn.", stringify!($name), "(p)`, in training mode.")]
            pub fn new(p: f64) -> Self {
                $name { p, training: Training::new() }
            }

            #[doc = concat!("The forward pass: [`", stringify!($f), "`] in training mode, the identity in evaluation mode.")]
            pub fn forward<E: Float, B: Backend>(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
                $f(x, self.p, self.training.get())
            }
        }

        impl Default for $name {
            /// PyTorch's default, `p = 0.5`.
            fn default() -> Self {
                $name::new(0.5)
            }
        }

        impl<E: Float, B: Backend> Module<E, B> for $name {
            fn visit<'a>(&'a self, v: &mut Visitor<'a, E, B>) {
                v.training(&self.training);
            }

            fn extra_repr(&self) -> String {
                format!("p={}, inplace=False", self.p)
            }
        }

        impl<E: Float, B: Backend> Forward<E, B> for $name {
            fn forward(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
                $name::forward(self, x)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&repr::<f32, Cpu, _>(self))
            }
        }
    )*};
}

channel_dropout_layer! {
    /// Zeroes whole channels of `[n, c, l]` (or `[c, l]`) with probability `p` while training,
    /// scaling the rest by `1/(1−p)`; the identity in evaluation mode (`nn.Dropout1d`).
    Dropout1d => dropout1d;
    /// Zeroes whole `h × w` maps of `[n, c, h, w]` with probability `p` while training, scaling
    /// the rest by `1/(1−p)`; the identity in evaluation mode (`nn.Dropout2d`). A 3-D input is
    /// read as `[n, c, l]`, as PyTorch does: see [`dropout2d`].
    Dropout2d => dropout2d;
}
