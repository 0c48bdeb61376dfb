//! torchvision's `Bottleneck` (ResNet-50 and deeper), version 1.5: the stride sits on the 3×3
//! convolution, not on the first 1×1 as in the original paper (v1), which torchvision found more
//! accurate at the same cost; torchvision's pretrained weights are v1.5's.

use super::block::{conv, last_norm, shortcut, Downsample};
use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::{Backend, Float, Result};
use nanotorch_nn::{BatchNorm2d, Conv2d, Module, ReLU, Visitor};

/// torchvision's `Bottleneck` (expansion 4): 1×1 `in → planes`, 3×3 `planes → planes` with the
/// stride, 1×1 `planes → 4·planes`, each followed by a norm, ReLU after the first two and after
/// the sum with the shortcut.
pub struct Bottleneck<E: Float = f32, B: Backend = Cpu> {
    /// 1×1, `in → planes`.
    pub conv1: Conv2d<E, B>,
    /// Norm after `conv1`.
    pub bn1: BatchNorm2d<E, B>,
    /// 3×3, `planes → planes`, carries the stride.
    pub conv2: Conv2d<E, B>,
    /// Norm after `conv2`.
    pub bn2: BatchNorm2d<E, B>,
    /// 1×1, `planes → 4·planes`.
    pub conv3: Conv2d<E, B>,
    /// Norm after `conv3`; its weight starts at zero under `zero_init_residual`.
    pub bn3: BatchNorm2d<E, B>,
    /// Shared by the three activations (torchvision's `self.relu`).
    pub relu: ReLU,
    /// The projection shortcut, if the block changes the shape.
    pub downsample: Option<Downsample<E, B>>,
}

impl<E: Float, B: Backend> Bottleneck<E, B> {
    /// Output channels per `planes` (torchvision's `Bottleneck.expansion`).
    pub const EXPANSION: usize = 4;

    /// A block from `in_channels` to `4·planes` channels at `stride`, with a projection
    /// shortcut when needed, torchvision's init, and `bn3.weight` zero under
    /// `zero_init_residual`.
    pub fn new(
        in_channels: usize,
        planes: usize,
        stride: usize,
        zero_init_residual: bool,
        backend: &B,
    ) -> Result<Self> {
        let out = planes * Self::EXPANSION;
        Ok(Bottleneck {
            conv1: conv(in_channels, planes, 1, 1, backend)?,
            bn1: BatchNorm2d::new(planes, backend)?,
            conv2: conv(planes, planes, 3, stride, backend)?,
            bn2: BatchNorm2d::new(planes, backend)?,
            conv3: conv(planes, out, 1, 1, backend)?,
            bn3: last_norm(out, zero_init_residual, backend)?,
            relu: ReLU,
            downsample: shortcut(in_channels, out, stride, backend)?,
        })
    }

    /// The forward pass: `[n, in, h, w]` → `[n, 4·planes, h / stride, w / stride]` (rounded up).
    pub fn forward(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        let out = self
            .relu
            .forward(&self.bn1.forward(&self.conv1.forward(x)?)?)?;
        let out = self
            .relu
            .forward(&self.bn2.forward(&self.conv2.forward(&out)?)?)?;
        let out = self.bn3.forward(&self.conv3.forward(&out)?)?;
        let identity = match &self.downsample {
            Some(d) => d.forward(x)?,
            None => x.clone(),
        };
        self.relu.forward(&out.add(&identity)?)
    }
}

impl<E: Float, B: Backend> Module<E, B> for Bottleneck<E, B> {
    fn visit<'a>(&'a self, v: &mut Visitor<'a, E, B>) {
        v.module("conv1", &self.conv1);
        v.module("bn1", &self.bn1);
        v.module("conv2", &self.conv2);
        v.module("bn2", &self.bn2);
        v.module("conv3", &self.conv3);
        v.module("bn3", &self.bn3);
        v.module("relu", &self.relu);
        if let Some(d) = &self.downsample {
            v.module("downsample", d);
        }
    }
}

crate::model_traits!(Bottleneck);
