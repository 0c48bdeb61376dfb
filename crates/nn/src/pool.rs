//! Pooling layers: thin modules over autograd's `max_pool2d` and `avg_pool2d`.

use crate::module::repr;
use crate::{Forward, Module, Visitor};
use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::{Backend, Float, Result};

/// Max pooling over `[n, c, h, w]` (`nn.MaxPool2d(kernel, stride)` without padding).
#[derive(Debug, Clone, Copy)]
pub struct MaxPool2d {
    /// Window size.
    pub kernel: (usize, usize),
    /// Step between windows (PyTorch's default is the kernel size: [`MaxPool2d::new`]).
    pub stride: (usize, usize),
}

/// Average pooling over `[n, c, h, w]` (`nn.AvgPool2d(kernel, stride)` without padding).
#[derive(Debug, Clone, Copy)]
pub struct AvgPool2d {
    /// Window size.
    pub kernel: (usize, usize),
    /// Step between windows (PyTorch's default is the kernel size: [`AvgPool2d::new`]).
    pub stride: (usize, usize),
}

macro_rules! pooling {
    ($($name:ident => $method:ident;)*) => {$(
        impl $name {
            /// Non-overlapping windows: the stride equals the kernel, as PyTorch's default.
            pub fn new(kernel: (usize, usize)) -> Self {
                $name { kernel, stride: kernel }
            }
        }

        impl $name {
            /// With `stride` (builder style).
            pub fn stride(mut self, stride: (usize, usize)) -> Self {
                self.stride = stride;
                self
            }

            /// The forward pass: `[n, c, h, w]` → `[n, c, h', w']`. A kernel size or stride of
            /// 0 is an error naming the layer (PyTorch refuses both).
            pub fn forward<E: Float, B: Backend>(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
                let (k, s) = (self.kernel, self.stride);
                crate::conv::check_positive(
                    stringify!($name),
                    &[("kernel_size", &[k.0, k.1]), ("stride", &[s.0, s.1])],
                )?;
                x.$method(self.kernel, self.stride)
            }
        }

        impl<E: Float, B: Backend> Module<E, B> for $name {
            fn visit<'a>(&'a self, _v: &mut Visitor<'a, E, B>) {}

            fn extra_repr(&self) -> String {
                format!("kernel_size={:?}, stride={:?}", self.kernel, self.stride)
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

pooling! {
    MaxPool2d => max_pool2d;
    AvgPool2d => avg_pool2d;
}
