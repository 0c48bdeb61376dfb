//! Parameter-free layers: activations, `Flatten`, `Unflatten`, `Dropout`, `Identity`.

use crate::module::{repr, Training};
use crate::{Forward, Module, Visitor};
use nanotorch_autograd::{in_op, Tensor};
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::{Backend, Error, Float, Result, Shape};

/// `Module` (nothing to visit), `Forward` through the inherent `forward`, and `Display`, for a
/// parameter-free layer usable at any element type and backend.
macro_rules! stateless_layer {
    ($name:ident) => {
        impl<E: Float, B: Backend> Module<E, B> for $name {
            fn visit<'a>(&'a self, _v: &mut Visitor<'a, E, B>) {}

            fn extra_repr(&self) -> String {
                self.options()
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
    };
}

macro_rules! activation {
    ($($(#[$doc:meta])* $name:ident => |$x:ident| $body:expr;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $name;

        impl $name {
            /// The forward pass.
            pub fn forward<E: Float, B: Backend>(&self, $x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
                $body
            }

            fn options(&self) -> String {
                String::new()
            }
        }

        stateless_layer!($name);
    )*};
}

activation! {
    /// `max(x, 0)`.
    ReLU => |x| x.relu();
    /// `tanh x`.
    Tanh => |x| x.tanh();
    /// `1 / (1 + e^−x)`.
    Sigmoid => |x| x.sigmoid();
    /// `x·σ(x)`.
    SiLU => |x| x.silu();
    /// Passes its input through unchanged.
    Identity => |x| Ok(x.clone());
}

macro_rules! param_activation {
    ($($(#[$doc:meta])* $name:ident($field:ident: $ty:ty) => |$s:ident, $x:ident| $body:expr;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name {
            #[doc = concat!("The `", stringify!($field), "` argument, as in PyTorch.")]
            pub $field: $ty,
        }

        impl $name {
            #[doc = concat!("`", stringify!($name), "` with the given `", stringify!($field), "`.")]
            pub fn new($field: $ty) -> Self {
                $name { $field }
            }
        }

        impl $name {
            /// The forward pass.
            pub fn forward<E: Float, B: Backend>(&self, $x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
                let $s = self;
                $body
            }

            fn options(&self) -> String {
                format!("{}={}", stringify!($field), self.$field)
            }
        }

        stateless_layer!($name);
    )*};
}

param_activation! {
    /// `x` where `x ≥ 0`, else `negative_slope·x` (PyTorch's default slope is 0.01: see
    /// [`LeakyReLU::default`]).
    LeakyReLU(negative_slope: f64) => |s, x| x.leaky_relu(E::from_f64(s.negative_slope));
    /// `softmax` along `dim` (negative counts from the end).
    Softmax(dim: isize) => |s, x| in_op("softmax", || x.softmax(s.dim));
    /// `log_softmax` along `dim`: stabler than `softmax().log()`, the input NLL expects.
    LogSoftmax(dim: isize) => |s, x| in_op("log_softmax", || x.log_softmax(s.dim));
}

impl Default for LeakyReLU {
    fn default() -> Self {
        LeakyReLU::new(0.01)
    }
}

/// GELU (`nn.GELU`): `x·Φ(x)` with the exact normal CDF by default, or PyTorch's
/// `approximate="tanh"` form with [`GELU::tanh`].
#[derive(Debug, Clone, Copy, Default)]
pub struct GELU {
    /// Whether the tanh approximation is used.
    pub tanh_approximation: bool,
}

impl GELU {
    /// The exact form (`nn.GELU()`).
    pub fn new() -> Self {
        Self::default()
    }

    /// The tanh approximation (`nn.GELU(approximate="tanh")`).
    pub fn tanh() -> Self {
        GELU {
            tanh_approximation: true,
        }
    }
}

impl GELU {
    /// The forward pass.
    pub fn forward<E: Float, B: Backend>(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        if self.tanh_approximation {
            x.gelu_tanh()
        } else {
            x.gelu()
        }
    }

    fn options(&self) -> String {
        let approximate = if self.tanh_approximation {
            "tanh"
        } else {
            "none"
        };
        format!("approximate='{approximate}'")
    }
}

stateless_layer!(GELU);

/// Zeroes elements with probability `p` while training (scaling the rest by `1/(1−p)`); the
/// identity in evaluation mode.
#[derive(Debug, Clone)]
pub struct Dropout {
    /// Probability of zeroing an element.
    pub p: f64,
    training: Training,
}

impl Dropout {
    /// Dropout with probability `p`, in training mode.
    pub fn new(p: f64) -> Self {
        Dropout {
            p,
            training: Training::new(),
        }
    }

    /// The forward pass: dropout in training mode, the identity in evaluation mode.
    pub fn forward<E: Float, B: Backend>(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        x.dropout(self.p, self.training.get())
    }
}

impl<E: Float, B: Backend> Module<E, B> for Dropout {
    fn visit<'a>(&'a self, v: &mut Visitor<'a, E, B>) {
        v.training(&self.training);
    }

    fn extra_repr(&self) -> String {
        format!("p={}", self.p)
    }
}

impl<E: Float, B: Backend> Forward<E, B> for Dropout {
    fn forward(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        Dropout::forward(self, x)
    }
}

impl std::fmt::Display for Dropout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&repr::<f32, Cpu, _>(self))
    }
}

/// Flattens the axes `start_dim..=end_dim` into one (`nn.Flatten(start_dim=1, end_dim=-1)`):
/// by default every axis after the batch, `[n, …] → [n, ∏…]`. Negative axes count from the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flatten {
    /// First axis flattened (default 1).
    pub start_dim: isize,
    /// Last axis flattened, inclusive (default −1).
    pub end_dim: isize,
}

impl Default for Flatten {
    fn default() -> Self {
        Flatten {
            start_dim: 1,
            end_dim: -1,
        }
    }
}

impl Flatten {
    /// PyTorch's defaults: every axis after the first.
    pub fn new() -> Self {
        Self::default()
    }

    /// The axes `start_dim..=end_dim`.
    pub fn dims(start_dim: isize, end_dim: isize) -> Self {
        Flatten { start_dim, end_dim }
    }

    /// The forward pass. With the defaults, an input of rank 0 or 1 (no axis after the batch)
    /// passes through unchanged.
    pub fn forward<E: Float, B: Backend>(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        if *self == Flatten::default() && x.rank() <= 1 {
            return Ok(x.clone());
        }
        x.flatten(self.start_dim, self.end_dim)
    }

    fn options(&self) -> String {
        format!("start_dim={}, end_dim={}", self.start_dim, self.end_dim)
    }
}

stateless_layer!(Flatten);

/// Splits axis `dim` into `sizes` (`nn.Unflatten(dim, unflattened_size)`), the inverse of
/// [`Flatten`]: `Unflatten::new(1, [1, 8, 8])` turns `[n, 64]` into `[n, 1, 8, 8]`, so a CNN on
/// flat rows is one `Sequential`. One size may be −1, inferred from the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unflatten {
    /// The axis split (negative counts from the end).
    pub dim: isize,
    /// The sizes it is split into; their product must equal the axis (one may be −1).
    pub sizes: Vec<isize>,
}

impl Unflatten {
    /// Splits axis `dim` into `sizes`.
    pub fn new(dim: isize, sizes: impl Into<Vec<isize>>) -> Self {
        Unflatten {
            dim,
            sizes: sizes.into(),
        }
    }

    /// The forward pass: a reshape, sharing storage where the layout allows.
    pub fn forward<E: Float, B: Backend>(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        let rank = x.rank() as isize;
        let axis = if self.dim < 0 {
            self.dim + rank
        } else {
            self.dim
        };
        if !(0..rank).contains(&axis) {
            return Err(Error::invalid(
                "Unflatten",
                format!("dim {} is out of range for rank {rank}", self.dim),
                x.shape(),
            ));
        }
        let axis = axis as usize;
        let size = x.dims()[axis];
        let sizes = infer_sizes(&self.sizes, size).ok_or_else(|| {
            Error::invalid(
                "Unflatten",
                format!(
                    "sizes {:?} do not multiply to axis {axis}'s size {size} \
                     (at most one -1, every other size >= 0)",
                    self.sizes
                ),
                x.shape(),
            )
        })?;
        let mut shape = x.dims()[..axis].to_vec();
        shape.extend(sizes);
        shape.extend_from_slice(&x.dims()[axis + 1..]);
        x.reshape(Shape::new(shape))
    }

    fn options(&self) -> String {
        format!("dim={}, unflattened_size={:?}", self.dim, self.sizes)
    }
}

stateless_layer!(Unflatten);

/// `sizes` with a −1 resolved so their product is `total`; `None` if that is impossible.
fn infer_sizes(sizes: &[isize], total: usize) -> Option<Vec<usize>> {
    let inferred = sizes.iter().filter(|&&s| s == -1).count();
    if inferred > 1 || sizes.iter().any(|&s| s < -1) {
        return None;
    }
    let known = sizes
        .iter()
        .filter(|&&s| s >= 0)
        .try_fold(1usize, |acc, &s| acc.checked_mul(s as usize))?;
    let fill = if inferred == 1 {
        if known == 0 || !total.is_multiple_of(known) {
            return None;
        }
        total / known
    } else if known == total {
        0
    } else {
        return None;
    };
    Some(
        sizes
            .iter()
            .map(|&s| if s == -1 { fill } else { s as usize })
            .collect(),
    )
}
