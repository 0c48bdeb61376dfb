//! Pooling layers: thin modules over autograd's pooling ops, with PyTorch's names, defaults and
//! `repr`s. They have no parameters; `return_indices` is a second forward method,
//! `forward_with_indices`, since [`Forward`](crate::Forward) returns one tensor.

/// The pooling layers of this folder, by name: `tests/gradcheck.rs` fails if one has no case.
pub const POOL_LAYERS: &[&str] = &[
    "MaxPool2d",
    "AvgPool2d",
    "MaxPool1d",
    "AvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveAvgPool1d",
    "AdaptiveMaxPool2d",
    "AdaptiveMaxPool1d",
    "MaxUnpool2d",
    "MaxUnpool1d",
    "LPPool2d",
    "LPPool1d",
];

/// `Module` (no parameters; `extra_repr` from the layer's `describe`) and `Display` (PyTorch's
/// `repr`) for parameterless pooling layers.
macro_rules! stateless_module {
    ($($name:ident),* $(,)?) => {$(
        impl<E: nanotorch_ndarray_core::Float, B: nanotorch_ndarray_core::Backend>
            crate::Module<E, B> for $name
        {
            fn visit<'a>(&'a self, _v: &mut crate::Visitor<'a, E, B>) {}

            fn extra_repr(&self) -> String {
                self.describe()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&crate::repr::<f32, nanotorch_backend_cpu::Cpu, _>(self))
            }
        }
    )*};
}

/// [`stateless_module!`] and `Forward` (the layer's inherent one-input `forward`).
macro_rules! stateless_layer {
    ($($name:ident),* $(,)?) => {$(
        stateless_module!($name);

        impl<E: nanotorch_ndarray_core::Float, B: nanotorch_ndarray_core::Backend>
            crate::Forward<E, B> for $name
        {
            fn forward(
                &self,
                x: &nanotorch_autograd::Tensor<E, B>,
            ) -> nanotorch_ndarray_core::Result<nanotorch_autograd::Tensor<E, B>> {
                $name::forward(self, x)
            }
        }
    )*};
}

mod adaptive;
mod lp;
mod sliding;
mod unpool;

pub use adaptive::*;
pub use lp::*;
pub use sliding::*;
pub use unpool::*;
