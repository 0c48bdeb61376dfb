//! What the normalisation layers share: the fused normalisation op, the per-channel affine
//! transform, and the struct behind every layer with running statistics (PyTorch's `_NormBase`).

use nanotorch_autograd::{is_grad_enabled, no_grad, Tensor};
use nanotorch_ndarray_core::{Backend, Error, Float, Result};

/// `x̂ = (x − mean) / √(var + eps)` over `axes` and `1/√(var + eps)`, with recorded ops (the
/// composition whose values `normalize` reproduces and whose gradient its rule is).
pub(super) fn normalize_parts<E: Float, B: Backend>(
    x: &Tensor<E, B>,
    axes: &[isize],
    eps: f64,
) -> Result<(Tensor<E, B>, Tensor<E, B>)> {
    let centered = x.sub(&x.mean_dims(axes, true)?)?;
    let var = centered.square()?.mean_dims(axes, true)?;
    let rstd = var.add_scalar(E::from_f64(eps))?.rsqrt()?;
    Ok((centered.mul(&rstd)?, rstd))
}

/// The normalisation over `axes` (biased variance) as one autograd op named `op`. The values
/// are the composition's (the same ops in the same order, run without recording); the gradient
/// is the closed form `dx = rstd · (g − mean(g) − x̂ · mean(g ⊙ x̂))`, a handful of passes where
/// the chain of sub/square/mean/rsqrt/mul rules took about twenty, and no intermediate tensors
/// are kept but `rstd` (one value per normalised group). Under `create_graph` (grad mode on
/// during backward) the rule recomputes `x̂` and `rstd` from the input with recorded ops, so the
/// gradient it returns is itself differentiable.
pub(super) fn normalize<E: Float, B: Backend>(
    x: &Tensor<E, B>,
    axes: Vec<isize>,
    eps: f64,
    op: &'static str,
) -> Result<Tensor<E, B>> {
    let (normed, rstd) = no_grad(|| normalize_parts(x, &axes, eps))?;
    Ok(Tensor::from_op(
        normed.array().clone(),
        op,
        &[x],
        move |inputs, out, g| {
            let (xhat, rstd) = if is_grad_enabled() {
                normalize_parts(&inputs[0], &axes, eps)?
            } else {
                (out.clone(), rstd.clone())
            };
            let mean_g = g.mean_dims(&axes, true)?;
            let mean_gx = g.mul(&xhat)?.mean_dims(&axes, true)?;
            let dx = g.sub(&mean_g)?.sub(&xhat.mul(&mean_gx)?)?.mul(&rstd)?;
            Ok(vec![Some(dx)])
        },
    ))
}

/// The gradients of a normalisation with an affine transform, `y = x̂·w + b` with `x̂`
/// normalised over `stat_axes`, from recorded ops (so they can be differentiated again; the
/// fused ops' rules use it under `create_graph`): `x̂` and `rstd` recomputed, `ĝ = g·w`, `dx =
/// rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂))`, and the weight's and bias's gradients `Σ g·x̂` and `Σ g`
/// over `param_axes`. `w` must broadcast against `x`.
#[allow(clippy::type_complexity)]
pub(super) fn affine_norm_grads<E: Float, B: Backend>(
    x: &Tensor<E, B>,
    w: Option<&Tensor<E, B>>,
    g: &Tensor<E, B>,
    (stat_axes, param_axes): (&[isize], &[isize]),
    eps: f64,
) -> Result<(Tensor<E, B>, Tensor<E, B>, Tensor<E, B>)> {
    let (xhat, rstd) = normalize_parts(x, stat_axes, eps)?;
    let gh = match w {
        Some(w) => g.mul(w)?,
        None => g.clone(),
    };
    let mean_g = gh.mean_dims(stat_axes, true)?;
    let mean_gx = gh.mul(&xhat)?.mean_dims(stat_axes, true)?;
    let dx = gh.sub(&mean_g)?.sub(&xhat.mul(&mean_gx)?)?.mul(&rstd)?;
    let dw = g.mul(&xhat)?.sum_dims(param_axes, false)?;
    let db = g.sum_dims(param_axes, false)?;
    Ok((dx, dw, db))
}

/// `x · weight + bias`, each optional, broadcast as given.
pub(super) fn affine<E: Float, B: Backend>(
    x: Tensor<E, B>,
    weight: Option<&Tensor<E, B>>,
    bias: Option<&Tensor<E, B>>,
) -> Result<Tensor<E, B>> {
    let x = match weight {
        Some(w) => x.mul(w)?,
        None => x,
    };
    match bias {
        Some(b) => x.add(b),
        None => Ok(x),
    }
}

/// `[C, 1, …, 1]`: a per-channel tensor's shape that broadcasts against `[N, C, *]` of `rank`.
pub(super) fn channel_shape(channels: usize, rank: usize) -> Vec<usize> {
    let mut shape = vec![channels];
    shape.resize(rank.saturating_sub(1), 1);
    shape
}

/// `t` (which must be `[C]`, checked against `x`'s axis 1 and named `what` in the error) viewed
/// as `[C, 1, …, 1]` so it broadcasts against `x`.
pub(super) fn per_channel<E: Float, B: Backend>(
    op: &'static str,
    x: &Tensor<E, B>,
    t: &Tensor<E, B>,
    what: &'static str,
) -> Result<Tensor<E, B>> {
    let channels = x.dims()[1];
    if t.dims() != [channels] {
        return Err(Error::ShapeMismatch {
            op,
            what,
            lhs: x.shape().clone(),
            rhs: t.shape().clone(),
        });
    }
    t.reshape(channel_shape(channels, x.rank()))
}

/// `(1 − m)·running + m·batch` written into `running`'s storage, without recording.
pub(super) fn update_running<E: Float, B: Backend>(
    running: &Tensor<E, B>,
    batch: &Tensor<E, B>,
    momentum: f64,
) -> Result<()> {
    no_grad(|| {
        let new = running
            .mul_scalar(E::from_f64(1.0 - momentum))?
            .add(&batch.mul_scalar(E::from_f64(momentum))?)?;
        running.array().assign(new.array())
    })
}

/// A layer's state borrowed for its forward function: what every layer made by
/// [`running_norm_layer!`] holds.
pub(super) struct NormState<'a, E: Float, B: Backend> {
    pub eps: f64,
    pub momentum: Option<f64>,
    pub weight: Option<&'a Tensor<E, B>>,
    pub bias: Option<&'a Tensor<E, B>>,
    /// `running_mean`, `running_var`, `num_batches_tracked`.
    pub running: Option<&'a [Tensor<E, B>; 3]>,
    pub training: bool,
}

/// Defines a layer with PyTorch's `_NormBase` state — `num_features`, `eps`, `momentum`, an
/// optional per-channel affine transform (`weight` ones, `bias` zeros) and optional running
/// statistics as buffers (`running_mean` zeros, `running_var` ones, `num_batches_tracked`) —
/// with its constructors, accessors, `Module`, `Forward` and `Display`. `new` takes the
/// defaults given; `forward` checks the input's rank against `ranks` and hands the state to
/// `$forward`.
macro_rules! running_norm_layer {
    (
        $(#[$doc:meta])*
        $name:ident {
            defaults: (affine = $affine:expr, track_running_stats = $track:expr),
            input: $input:literal,
            ranks: $ranks:expr,
            forward: $forward:path $(,)?
        }
    ) => {
        $(#[$doc])*
        ///
        /// A state dict holds one element type, so `num_batches_tracked` is stored as `E`
        /// (PyTorch uses int64; loading a PyTorch checkpoint converts it). In f32 it counts
        /// exactly up to 2^24 batches, which only matters for a batch norm with
        /// `momentum = None` (the cumulative average) beyond that.
        pub struct $name<E: Float = f32, B: Backend = Cpu> {
            num_features: usize,
            /// Added to the variance before the square root.
            pub eps: f64,
            /// Weight of each new batch in the running averages; `None` is PyTorch's
            /// `momentum=None`.
            pub momentum: Option<f64>,
            /// Scale `[C]`, initialised to ones (`None` without affine).
            pub weight: Option<Tensor<E, B>>,
            /// Shift `[C]`, initialised to zeros.
            pub bias: Option<Tensor<E, B>>,
            running: Option<[Tensor<E, B>; 3]>,
            training: Training,
        }

        impl<E: Float, B: Backend> $name<E, B> {
            #[doc = concat!(
                "PyTorch's defaults: `eps = 1e-5`, `momentum = 0.1`, `affine = ",
                stringify!($affine),
                "`, `track_running_stats = ",
                stringify!($track),
                "`."
            )]
            pub fn new(num_features: usize, backend: &B) -> Result<Self> {
                Self::with_options(num_features, 1e-5, Some(0.1), $affine, $track, backend)
            }

            #[doc = concat!(
                "Every option of `nn.",
                stringify!($name),
                "(num_features, eps, momentum, affine, track_running_stats)`."
            )]
            pub fn with_options(
                num_features: usize,
                eps: f64,
                momentum: Option<f64>,
                affine: bool,
                track_running_stats: bool,
                backend: &B,
            ) -> Result<Self> {
                let weight = affine
                    .then(|| crate::init::ones([num_features], backend))
                    .transpose()?;
                let bias = affine
                    .then(|| crate::init::zeros([num_features], backend))
                    .transpose()?;
                let running = if track_running_stats {
                    Some([
                        Tensor::zeros([num_features], backend)?,
                        Tensor::ones([num_features], backend)?,
                        Tensor::zeros(nanotorch_ndarray_core::Shape::scalar(), backend)?,
                    ])
                } else {
                    None
                };
                Ok($name {
                    num_features,
                    eps,
                    momentum,
                    weight,
                    bias,
                    running,
                    training: Training::new(),
                })
            }

            /// `C`.
            pub fn num_features(&self) -> usize {
                self.num_features
            }

            /// The running mean `[C]`, if tracked.
            pub fn running_mean(&self) -> Option<&Tensor<E, B>> {
                self.running.as_ref().map(|r| &r[0])
            }

            /// The running (unbiased) variance `[C]`, if tracked.
            pub fn running_var(&self) -> Option<&Tensor<E, B>> {
                self.running.as_ref().map(|r| &r[1])
            }

            #[doc = concat!("The forward pass on ", $input, ".")]
            pub fn forward(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
                if !$ranks.contains(&x.rank()) {
                    return Err(nanotorch_ndarray_core::Error::invalid(
                        stringify!($name),
                        concat!("expected input ", $input),
                        x.shape(),
                    ));
                }
                let state = super::base::NormState {
                    eps: self.eps,
                    momentum: self.momentum,
                    weight: self.weight.as_ref(),
                    bias: self.bias.as_ref(),
                    running: self.running.as_ref(),
                    training: self.training.get(),
                };
                $forward(x, state)
            }
        }

        impl<E: Float, B: Backend> crate::Module<E, B> for $name<E, B> {
            fn visit<'a>(&'a self, v: &mut crate::Visitor<'a, E, B>) {
                v.training(&self.training);
                v.parameter("weight", self.weight.as_ref());
                v.parameter("bias", self.bias.as_ref());
                if let Some([mean, var, count]) = &self.running {
                    v.buffer("running_mean", mean);
                    v.buffer("running_var", var);
                    v.buffer("num_batches_tracked", count);
                }
            }

            fn extra_repr(&self) -> String {
                format!(
                    "{}, eps={}, momentum={:?}, affine={}, track_running_stats={}",
                    self.num_features,
                    self.eps,
                    self.momentum,
                    self.weight.is_some(),
                    self.running.is_some()
                )
            }
        }

        crate::module::layer_traits!($name);
    };
}
pub(super) use running_norm_layer;
