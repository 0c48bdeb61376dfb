//! Parameter-free layers: activations, `Flatten`, `Dropout`, `Identity`.

use crate::Module;
use nanotorch_autograd::Tensor;
use nanotorch_ndarray_core::{Backend, Float, Result};

macro_rules! activation {
    ($($(#[$doc:meta])* $name:ident => |$x:ident| $body:expr;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $name;

        impl<E: Float, B: Backend> Module<E, B> for $name {
            fn forward(&self, $x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
                $body
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}()", stringify!($name))
            }
        }
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
    /// Flattens every axis after the first (the batch): `[n, …] → [n, ∏…]`.
    Flatten => |x| if x.rank() <= 1 { Ok(x.clone()) } else { x.flatten(1, -1) };
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

        impl<E: Float, B: Backend> Module<E, B> for $name {
            fn forward(&self, $x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
                let $s = self;
                $body
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({}={})", stringify!($name), stringify!($field), self.$field)
            }
        }
    )*};
}

param_activation! {
    /// `x` where `x ≥ 0`, else `negative_slope·x` (PyTorch's default slope is 0.01: see
    /// [`LeakyReLU::default`]).
    LeakyReLU(negative_slope: f64) => |s, x| x.leaky_relu(E::from_f64(s.negative_slope));
    /// `softmax` along `dim` (negative counts from the end).
    Softmax(dim: isize) => |s, x| x.softmax(s.dim);
    /// `log_softmax` along `dim`: stabler than `softmax().log()`, the input NLL expects.
    LogSoftmax(dim: isize) => |s, x| x.log_softmax(s.dim);
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

impl<E: Float, B: Backend> Module<E, B> for GELU {
    fn forward(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        if self.tanh_approximation {
            x.gelu_tanh()
        } else {
            x.gelu()
        }
    }
}

impl std::fmt::Display for GELU {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let approximate = if self.tanh_approximation {
            "tanh"
        } else {
            "none"
        };
        write!(f, "GELU(approximate='{approximate}')")
    }
}

/// Zeroes elements with probability `p` while training (scaling the rest by `1/(1−p)`); the
/// identity in evaluation mode.
#[derive(Debug, Clone, Copy)]
pub struct Dropout {
    /// Probability of zeroing an element.
    pub p: f64,
    training: bool,
}

impl Dropout {
    /// Dropout with probability `p`, in training mode.
    pub fn new(p: f64) -> Self {
        Dropout { p, training: true }
    }
}

impl<E: Float, B: Backend> Module<E, B> for Dropout {
    fn forward(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        x.dropout(self.p, self.training)
    }

    fn set_training(&mut self, training: bool) {
        self.training = training;
    }
}

impl std::fmt::Display for Dropout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Dropout(p={})", self.p)
    }
}
