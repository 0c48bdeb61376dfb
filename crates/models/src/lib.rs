//! # nanotorch-models
//!
//! Ready-made models built from `nanotorch-nn` layers with torchvision's module tree, so their
//! state-dict keys (`conv1.weight`, `layer1.0.bn1.running_mean`, `fc.bias`, ...) are PyTorch's and
//! a torchvision checkpoint saved as safetensors loads unchanged:
//!
//! - [`resnet18`], [`resnet34`] ([`BasicBlock`]) and [`resnet50`] ([`Bottleneck`], v1.5), each
//!   with a `_with` form taking [`ResNetOptions`] (`zero_init_residual`), and [`ResNet::new`]
//!   for other depths (`[3, 4, 23, 3]` bottlenecks is ResNet-101);
//! - [`resnet9`], the CIFAR-10 ResNet-9 of Myrtle.ai's DAWNBench entry (David Page), with Page's
//!   module names.
//!
//! Every model is a [`Module`](nanotorch_nn::Module) (parameters, state dict, `train()` /
//! `eval()` reaching every `BatchNorm2d`) and a [`Forward`](nanotorch_nn::Forward) from images
//! `[n, 3, h, w]` to logits `[n, num_classes]`.
//!
//! ```
//! use nanotorch_autograd::Tensor;
//! use nanotorch_backend_cpu::Cpu;
//! use nanotorch_models::{resnet18, ResNet};
//! use nanotorch_nn::Module;
//! # fn main() -> nanotorch_ndarray_core::Result<()> {
//! let mut model: ResNet = resnet18(10, &Cpu)?; // ResNet<f32, Cpu>
//! model.eval();
//! let logits = model.forward(&Tensor::zeros([1, 3, 32, 32], &Cpu)?)?;
//! assert_eq!(logits.dims(), [1, 10]);
//! assert!(model.state_dict().contains_key("layer2.0.downsample.1.running_var"));
//! # Ok(()) }
//! ```
//!
//! Chapter 12 of the book (`docs/12-convolutions.md`) builds the ResNet block.
#![deny(missing_docs)]

/// Implements `Forward` (the inherent `forward`) and `Display` (PyTorch's `repr`) for model
/// types generic over `<E, B>`.
macro_rules! model_traits {
    ($($name:ident),* $(,)?) => {$(
        impl<E: nanotorch_ndarray_core::Float, B: nanotorch_ndarray_core::Backend>
            nanotorch_nn::Forward<E, B> for $name<E, B>
        {
            fn forward(
                &self,
                input: &nanotorch_autograd::Tensor<E, B>,
            ) -> nanotorch_ndarray_core::Result<nanotorch_autograd::Tensor<E, B>> {
                $name::forward(self, input)
            }
        }

        impl<E: nanotorch_ndarray_core::Float, B: nanotorch_ndarray_core::Backend>
            std::fmt::Display for $name<E, B>
        {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&nanotorch_nn::repr::<E, B, _>(self))
            }
        }
    )*};
}
pub(crate) use model_traits;

mod resnet;
mod resnet9;

pub use resnet::{
    resnet18, resnet18_with, resnet34, resnet34_with, resnet50, resnet50_with, BasicBlock, Block,
    BlockKind, Bottleneck, Downsample, ResNet, ResNetOptions, Stage,
};
pub use resnet9::{resnet9, resnet9_with, ConvBn, ResNet9, ResNet9Options, Residual, Stage9};
