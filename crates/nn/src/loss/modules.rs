//! Losses as small structs with PyTorch's constructor options, so
//! `criterion = nn.CrossEntropyLoss(label_smoothing=0.1)` ports line by line:
//!
//! ```
//! # use nanotorch_autograd::Tensor;
//! # use nanotorch_backend_cpu::Cpu;
//! use nanotorch_nn::CrossEntropyLoss;
//! # fn main() -> nanotorch_ndarray_core::Result<()> {
//! let criterion = CrossEntropyLoss::new().label_smoothing(0.1);
//! let logits = Tensor::<f32, Cpu>::randn([4, 3], &Cpu)?;
//! let labels = Tensor::from_vec(vec![0i64, 2, 1, 2], [4], &Cpu)?;
//! let loss = criterion.forward(&logits, &labels)?;
//! assert_eq!(loss.rank(), 0);
//! # Ok(())
//! # }
//! ```
//!
//! Each `forward(input, target)` calls the function of the same name in [`crate::functional`].

use super::{
    binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy_opts,
    cross_entropy_probs, huber_loss, kl_div, l1_loss, mse_loss, nll_loss_opts, smooth_l1_loss,
    CrossEntropyOptions, KlReduction, NllLossOptions, Reduction,
};
use nanotorch_autograd::Tensor;
use nanotorch_ndarray_core::{Backend, Element, Float, Result};

/// What a cross-entropy target can be, so [`CrossEntropyLoss::forward`] takes either kind, as
/// PyTorch's does: class indices (`Tensor<i64, B>`, one fewer axis than the logits) or class
/// probabilities (a tensor of the logits' own float type and shape).
pub trait CrossEntropyTarget<E: Float, B: Backend> {
    /// The cross-entropy of `logits` against `self` under `options`.
    fn cross_entropy_against(
        &self,
        logits: &Tensor<E, B>,
        options: &CrossEntropyOptions<E, B>,
    ) -> Result<Tensor<E, B>>;
}

impl<E: Float, B: Backend> CrossEntropyTarget<E, B> for Tensor<i64, B> {
    fn cross_entropy_against(
        &self,
        logits: &Tensor<E, B>,
        options: &CrossEntropyOptions<E, B>,
    ) -> Result<Tensor<E, B>> {
        cross_entropy_opts(logits, self, options)
    }
}

macro_rules! probability_target {
    ($($t:ty),*) => {$(
        impl<B: Backend> CrossEntropyTarget<$t, B> for Tensor<$t, B> {
            fn cross_entropy_against(
                &self,
                logits: &Tensor<$t, B>,
                options: &CrossEntropyOptions<$t, B>,
            ) -> Result<Tensor<$t, B>> {
                cross_entropy_probs(logits, self, options)
            }
        }
    )*};
}

probability_target!(f32, f64);

macro_rules! simple_loss {
    ($($(#[$doc:meta])* $name:ident => $f:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct $name {
            /// How per-element losses are combined (default mean).
            pub reduction: Reduction,
        }

        impl $name {
            /// With PyTorch's defaults (mean reduction).
            pub fn new() -> Self {
                Self::default()
            }

            /// Sets the reduction.
            pub fn reduction(mut self, reduction: Reduction) -> Self {
                self.reduction = reduction;
                self
            }

            #[doc = concat!("The loss of `input` against `target` (see [`crate::functional::", stringify!($f), "`]).")]
            pub fn forward<E: Float, B: Backend>(
                &self,
                input: &Tensor<E, B>,
                target: &Tensor<E, B>,
            ) -> Result<Tensor<E, B>> {
                $f(input, target, self.reduction)
            }
        }
    )*};
}

simple_loss! {
    /// `nn.MSELoss`: `(input − target)²`, reduced.
    MSELoss => mse_loss;
    /// `nn.L1Loss`: `|input − target|`, reduced.
    L1Loss => l1_loss;
}

/// `nn.SmoothL1Loss(reduction='mean', beta=1.0)`: quadratic below `beta`, linear above.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SmoothL1Loss {
    /// How per-element losses are combined (default mean).
    pub reduction: Reduction,
    /// Where the loss turns from quadratic to linear (default 1; 0 is plain L1).
    pub beta: f64,
}

impl Default for SmoothL1Loss {
    fn default() -> Self {
        SmoothL1Loss {
            reduction: Reduction::Mean,
            beta: 1.0,
        }
    }
}

impl SmoothL1Loss {
    /// With PyTorch's defaults (mean, `beta = 1`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the reduction.
    pub fn reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }

    /// Sets `beta` (checked to be finite and ≥ 0 in `forward`).
    pub fn beta(mut self, beta: f64) -> Self {
        self.beta = beta;
        self
    }

    /// The loss of `input` against `target` (see [`crate::functional::smooth_l1_loss`]).
    pub fn forward<E: Float, B: Backend>(
        &self,
        input: &Tensor<E, B>,
        target: &Tensor<E, B>,
    ) -> Result<Tensor<E, B>> {
        smooth_l1_loss(input, target, self.reduction, self.beta)
    }
}

/// `nn.HuberLoss(reduction='mean', delta=1.0)`: quadratic below `delta`, linear (slope `delta`)
/// above.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HuberLoss {
    /// How per-element losses are combined (default mean).
    pub reduction: Reduction,
    /// Where the loss turns from quadratic to linear (default 1; must be > 0).
    pub delta: f64,
}

impl Default for HuberLoss {
    fn default() -> Self {
        HuberLoss {
            reduction: Reduction::Mean,
            delta: 1.0,
        }
    }
}

impl HuberLoss {
    /// With PyTorch's defaults (mean, `delta = 1`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the reduction.
    pub fn reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }

    /// Sets `delta` (checked to be finite and > 0 in `forward`).
    pub fn delta(mut self, delta: f64) -> Self {
        self.delta = delta;
        self
    }

    /// The loss of `input` against `target` (see [`crate::functional::huber_loss`]).
    pub fn forward<E: Float, B: Backend>(
        &self,
        input: &Tensor<E, B>,
        target: &Tensor<E, B>,
    ) -> Result<Tensor<E, B>> {
        huber_loss(input, target, self.reduction, self.delta)
    }
}

/// `nn.CrossEntropyLoss(weight=None, ignore_index=-100, reduction='mean', label_smoothing=0.0)`
/// on logits, with class-index or class-probability targets (see [`CrossEntropyTarget`]). The
/// loss holds nothing but its options, so it *is* its options struct: the builder setters are
/// [`CrossEntropyOptions`]'s, and `forward` is added here.
pub type CrossEntropyLoss<E, B> = CrossEntropyOptions<E, B>;

impl<E: Float, B: Backend> CrossEntropyOptions<E, B> {
    /// The loss of `logits` against class indices (`Tensor<i64, B>`) or class probabilities
    /// (`Tensor<E, B>` of the logits' shape), under these options.
    pub fn forward<T: CrossEntropyTarget<E, B> + ?Sized>(
        &self,
        logits: &Tensor<E, B>,
        target: &T,
    ) -> Result<Tensor<E, B>> {
        target.cross_entropy_against(logits, self)
    }
}

/// `nn.NLLLoss(weight=None, ignore_index=-100, reduction='mean')` on log-probabilities: like
/// [`CrossEntropyLoss`], the options struct [`NllLossOptions`] with a `forward`.
pub type NLLLoss<E, B> = NllLossOptions<E, B>;

impl<E: Float, B: Backend> NllLossOptions<E, B> {
    /// The loss of log-probabilities `input` at class indices `target`, under these options.
    pub fn forward(&self, input: &Tensor<E, B>, target: &Tensor<i64, B>) -> Result<Tensor<E, B>> {
        nll_loss_opts(input, target, self)
    }
}

/// `nn.BCELoss(weight=None, reduction='mean')` on probabilities in `[0, 1]`.
#[derive(Debug, Clone)]
pub struct BCELoss<E: Element, B: Backend> {
    /// Per-element rescaling weight, broadcast to the input's shape.
    pub weight: Option<Tensor<E, B>>,
    /// How per-element losses are combined (default mean).
    pub reduction: Reduction,
}

impl<E: Element, B: Backend> Default for BCELoss<E, B> {
    fn default() -> Self {
        BCELoss {
            weight: None,
            reduction: Reduction::Mean,
        }
    }
}

impl<E: Float, B: Backend> BCELoss<E, B> {
    /// With PyTorch's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the per-element `weight`.
    pub fn weight(mut self, weight: Tensor<E, B>) -> Self {
        self.weight = Some(weight);
        self
    }

    /// Sets the reduction.
    pub fn reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }

    /// The loss of probabilities `input` against `target` (see
    /// [`crate::functional::binary_cross_entropy`]).
    pub fn forward(&self, input: &Tensor<E, B>, target: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        binary_cross_entropy(input, target, self.weight.as_ref(), self.reduction)
    }
}

/// `nn.BCEWithLogitsLoss(weight=None, reduction='mean', pos_weight=None)`: sigmoid and BCE in
/// one numerically stable step.
#[derive(Debug, Clone)]
pub struct BCEWithLogitsLoss<E: Element, B: Backend> {
    /// Per-element rescaling weight, broadcast to the input's shape.
    pub weight: Option<Tensor<E, B>>,
    /// Weight of the positive examples, one per class (broadcast along the last axis).
    pub pos_weight: Option<Tensor<E, B>>,
    /// How per-element losses are combined (default mean).
    pub reduction: Reduction,
}

impl<E: Element, B: Backend> Default for BCEWithLogitsLoss<E, B> {
    fn default() -> Self {
        BCEWithLogitsLoss {
            weight: None,
            pos_weight: None,
            reduction: Reduction::Mean,
        }
    }
}

impl<E: Float, B: Backend> BCEWithLogitsLoss<E, B> {
    /// With PyTorch's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the per-element `weight`.
    pub fn weight(mut self, weight: Tensor<E, B>) -> Self {
        self.weight = Some(weight);
        self
    }

    /// Sets `pos_weight` (`[classes]`).
    pub fn pos_weight(mut self, pos_weight: Tensor<E, B>) -> Self {
        self.pos_weight = Some(pos_weight);
        self
    }

    /// Sets the reduction.
    pub fn reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }

    /// The loss of `logits` against `target` (see
    /// [`crate::functional::binary_cross_entropy_with_logits`]).
    pub fn forward(&self, logits: &Tensor<E, B>, target: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        binary_cross_entropy_with_logits(
            logits,
            target,
            self.weight.as_ref(),
            self.pos_weight.as_ref(),
            self.reduction,
        )
    }
}

/// `nn.KLDivLoss(reduction='mean', log_target=False)`; prefer
/// `.reduction(KlReduction::BatchMean)`, the true KL divergence per sample.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KLDivLoss {
    /// How per-element losses are combined (default mean, as in PyTorch).
    pub reduction: KlReduction,
    /// Whether the target is given as log-probabilities.
    pub log_target: bool,
}

impl KLDivLoss {
    /// With PyTorch's defaults (mean, probabilities as target).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the reduction; a plain [`Reduction`] converts too.
    pub fn reduction(mut self, reduction: impl Into<KlReduction>) -> Self {
        self.reduction = reduction.into();
        self
    }

    /// Sets `log_target`.
    pub fn log_target(mut self, log_target: bool) -> Self {
        self.log_target = log_target;
        self
    }

    /// The loss of log-probabilities `input` against `target` (see
    /// [`crate::functional::kl_div`]).
    pub fn forward<E: Float, B: Backend>(
        &self,
        input: &Tensor<E, B>,
        target: &Tensor<E, B>,
    ) -> Result<Tensor<E, B>> {
        kl_div(input, target, self.reduction, self.log_target)
    }
}
