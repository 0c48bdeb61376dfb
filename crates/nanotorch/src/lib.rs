//! # nanotorch
//!
//! A PyTorch-like deep-learning library written from scratch in Rust. This facade crate is where a
//! user starts: it re-exports the layers, each of which is also usable on its own, and a
//! [`prelude`] with the names a training script needs.
//!
//! ```
//! use nanotorch::prelude::*;
//!
//! # fn main() -> nanotorch::Result<()> {
//! manual_seed(0);
//! let model: Sequential<f32, Cpu> = Sequential::new()
//!     .append(Linear::new(4, 8, &Cpu)?)
//!     .append(ReLU)
//!     .append(Linear::new(8, 3, &Cpu)?);
//! let mut opt = SGD::new(model.parameters(), SgdOptions { lr: 0.1, ..Default::default() })?;
//! let x = Tensor::randn([16, 4], &Cpu)?;
//! let y = Tensor::<i64>::randint(0, 3, [16], &Cpu)?;
//! for _ in 0..3 {
//!     opt.zero_grad();
//!     let loss = cross_entropy(&model.forward(&x)?, &y)?;
//!     loss.backward()?;
//!     opt.step()?;
//! }
//! # Ok(()) }
//! ```
//!
//! - [`array`]: shapes, strided layouts and zero-copy views, element types, the `Backend` trait
//!   and `NDArray` (`nanotorch-ndarray-core`).
//! - [`Cpu`]: the CPU backend (`nanotorch-backend-cpu`); `Cuda` with the `cuda` feature.
//! - [`autograd`]: `Tensor`, backward, `no_grad`, gradcheck (`nanotorch-autograd`).
//! - [`nn`]: modules, layers, losses, init, checkpoints (`nanotorch-nn`).
//! - [`models`]: ResNet-18/34/50 and ResNet-9 with torchvision's state-dict keys
//!   (`nanotorch-models`).
//! - [`optim`]: optimizers, LR schedules, gradient clipping (`nanotorch-optim`).
//! - [`data`]: datasets, loaders, samplers, transforms, readers (`nanotorch-data`), plus
//!   collation into `Tensor`s ([`data::TensorCollate`], [`data::IntoTensors`]), which lives here
//!   because the data crate depends on ndarray-core alone.
//! - [`viz`]: pictures of the autograd graph behind a tensor, as Graphviz DOT and as SVG laid
//!   out in Rust (`layout-rs`), like micrograd's `draw_dot`.
//!
//! The book in `docs/` teaches one layer per chapter.
#![deny(missing_docs)]

mod collate;

pub use nanotorch_autograd as autograd;
pub use nanotorch_backend_cpu::Cpu;
pub use nanotorch_models as models;
/// Shapes, strided layouts and views, element types, the `Backend` trait and `NDArray`
/// (`nanotorch-ndarray-core`). Named `array`, not `ndarray`, so it is never mistaken for the
/// well-known `ndarray` crate.
pub use nanotorch_ndarray_core as array;
pub use nanotorch_ndarray_core::{Error, Result};
pub use nanotorch_nn as nn;
pub use nanotorch_optim as optim;
pub mod viz;

#[cfg(feature = "cuda")]
pub use nanotorch_backend_cuda::Cuda;

/// Datasets, loaders, samplers, transforms and readers: everything of `nanotorch-data`, and the
/// step from its host-side batches to autograd tensors ([`TensorCollate`](data::TensorCollate),
/// [`IntoTensors`](data::IntoTensors), [`FromTensors`](data::FromTensors)).
pub mod data {
    pub use crate::collate::{FromTensors, IntoTensors, TensorCollate};
    pub use nanotorch_data::*;
}

/// A tensor of `f32` on the CPU unless said otherwise: `Tensor` is what most code wants,
/// `Tensor<f64>` for gradient checks, `Tensor<i64>` for labels and indices.
pub type Tensor<E = f32, B = Cpu> = nanotorch_autograd::Tensor<E, B>;

/// The names a training script needs: `use nanotorch::prelude::*;`.
pub mod prelude {
    pub use crate::array::{Backend, Shape};
    pub use crate::autograd::{manual_seed, no_grad};
    pub use crate::data::{DataLoader, Dataset, IntoTensors};
    pub use crate::nn::functional::{cross_entropy, mse_loss};
    pub use crate::nn::{
        CrossEntropyLoss, Dropout, Flatten, Forward, Linear, Module, ReLU, Reduction, Sequential,
        Training, Unflatten, Visitor,
    };
    pub use crate::optim::{Adam, AdamOptions, Optimizer, SgdOptions, SGD};
    pub use crate::{Cpu, Tensor};
}
